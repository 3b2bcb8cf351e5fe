// Helpers of the GPU-only test binary (nf_gpu_tests): what only a GPU has (host<->device
// transfers, the CUDA caching allocator, run-to-run determinism on the GPU, a checkpoint
// written on the GPU and read on the CPU). Every op and layer test runs on CUDA as the
// /CUDA instance of a typed test in nf_tests (tests/device_test.h) instead.
// Self-contained (no PyTorch parity dumps). Tests use the GpuTest fixture:
//   TEST_F(GpuTest, Something) { ... }   // skipped where no CUDA device is found
// It restores the CPU convolution algorithm the test found, whatever the test did
// (configure_runtime sets it from a recipe).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/core/storage.h"
#include "framework/core/tensor.h"
#include "framework/ops/conv.h"
#include "random_tensors.h"

namespace nf::gpu_test {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = ops::cpu_conv_algorithm();
    if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  }
  void TearDown() override {
    if (saved_) ops::set_cpu_conv_algorithm(*saved_);
  }

 private:
  std::optional<ops::CpuConvAlgorithm> saved_;
};

inline Device cuda() { return Device::cuda(); }

inline const char* fmt_name(MemoryFormat f) { return f == MemoryFormat::ChannelsLast ? "NHWC" : "NCHW"; }

// CPU tensors (row-major) of seeded random values.
using test::randn;
using test::uniform;

inline Tensor labels(int64_t n, int64_t classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> v(n);
  for (int64_t& c : v) c = static_cast<int64_t>(rng() % static_cast<uint64_t>(classes));
  return Tensor::from_vector(v, {n});
}

// Image tensor [N,C,H,W] of random values in the given memory format (CPU).
inline Tensor image(const Shape& s, uint64_t seed, MemoryFormat f, float scale = 1.f) {
  return randn(s, seed, scale).contiguous(f);
}

// Bitwise equality of two F32 tensors (any devices, any memory formats); on a
// mismatch reports how many elements differ and the largest difference.
inline void expect_bitwise(const std::string& what, const Tensor& actual, const Tensor& expected) {
  ASSERT_TRUE(actual.defined() && expected.defined()) << what << ": undefined";
  ASSERT_EQ(shape_str(actual.shape()), shape_str(expected.shape())) << what;
  ASSERT_EQ(actual.dtype(), expected.dtype()) << what;
  const std::vector<float> a = actual.to_vector(), b = expected.to_vector();
  size_t differ = 0;
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      ++differ;
      max_diff = std::max(max_diff, std::fabs(double(a[i]) - double(b[i])));
    }
  std::printf("[bitwise] %-52s %s (n=%zu)\n", what.c_str(),
              differ ? ("DIFFERS, max diff " + std::to_string(max_diff)).c_str() : "equal", a.size());
  EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << a.size()
                        << " elements differ bitwise; max |diff| = " << max_diff;
}

}  // namespace nf::gpu_test
