// CUDA device memory (the CUDA backend's ops arrive with the GPU issue). Skipped where
// no GPU is present: cudaGetDeviceCount failing (no driver) counts as "no GPU".
#include "test_util.h"

using namespace nf;
using namespace nf::test;

TEST(Cuda, HostDeviceRoundTripIsExact) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  Tensor h = randn({3, 5, 7}, 1);
  Tensor d = h.to(Device::cuda());
  EXPECT_TRUE(d.device().is_cuda());
  expect_bitwise_equal("round trip", d.to(Device::cpu()), h);
  Tensor d2 = d.clone();  // device to device
  expect_bitwise_equal("device copy", d2, h);
}

TEST(Cuda, NoGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(Tensor::empty({2}, DType::F32, Device::cuda()), Error);
}
