// Seeded random CPU tensors (row-major F32), shared by the CPU suite (test_util.h) and
// the GPU suite (gpu/gpu_test_util.h).
#pragma once
#include <random>
#include <vector>

#include "framework/core/tensor.h"

namespace nf::test {

inline Tensor randn(const Shape& shape, uint64_t seed, float scale = 1.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(shape_numel(shape));
  for (float& x : v) x = d(rng);
  return Tensor::from_vector(v, shape);
}

inline Tensor uniform(const Shape& shape, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(shape_numel(shape));
  for (float& x : v) x = d(rng);
  return Tensor::from_vector(v, shape);
}

}  // namespace nf::test
