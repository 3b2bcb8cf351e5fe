// NF_VECTORIZE: compiles a hot loop function for AVX-512 and AVX2 besides the default
// x86-64 target; the loader picks the best one for the CPU it runs on (GCC
// target_clones). For our own memory-bound loops (BatchNorm), which would otherwise be
// vectorized for SSE2 only. oneDNN's kernels are JIT-compiled and need no such help.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NF_VECTORIZE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NF_VECTORIZE
#endif
