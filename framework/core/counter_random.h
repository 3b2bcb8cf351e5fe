// Counter-based random numbers, for masks that must be regenerated rather than stored
// (dropout's backward) and drawn in parallel: the i-th number of a seed is the (i+1)-th
// output of the SplitMix64 sequence started at `seed`, computed directly,
//   h = mix(seed + (i + 1) * golden),   u = (h >> 11) * 2^-53 uniform in [0, 1).
// One definition for the CPU loops and the CUDA kernels (callable from both).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define NF_HOST_DEVICE __host__ __device__
#else
#define NF_HOST_DEVICE
#endif

namespace nf {

NF_HOST_DEVICE inline uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The i-th uniform [0, 1) double of `seed` (53 random bits).
NF_HOST_DEVICE inline double counter_uniform(uint64_t seed, uint64_t i) {
  return double(splitmix64(seed, i) >> 11) * 0x1p-53;
}

}  // namespace nf
