// The device fixture of the typed op and layer tests (nf_tests): a test written once runs
// once per device, named <Suite>.<Test>/CPU and <Suite>.<Test>/CUDA. Where no CUDA GPU is
// found (the development and CI machines) every /CUDA instance reports itself skipped
// (GTEST_SKIP), never passed; a GPU machine runs them with `nf_tests --gtest_filter='*/CUDA'`
// (tools/scripts/gpu/check.sh). The binary prints, once, how many tests are instantiated
// for CUDA and how many of them ran or were skipped.
//
// A new op test file (e.g. tests/unit/test_instance_norm.cpp):
//   #include "device_test.h"
//   NF_DEVICE_TEST_SUITE(InstanceNorm);                   // fixture + its CPU and CUDA instances
//   TEST_P(InstanceNorm, MatchesPyTorch) {
//     io::TensorDict r = load_ref("instance_norm_basic");  // host tensors (build/parity)
//     Tensor x = dparam(r.at("x"));                         // on the device, a leaf that wants grad
//     Tensor y = ops::instance_norm(x, ...);  y.backward(dev(r.at("gy")));
//     expect_close("y", y, r.at("y"), 1e-5);                // any device against the host reference
//     expect_close("dx", x.grad(), r.at("gx"), 1e-5);
//     gradcheck("dx", [](auto& in) { return ops::instance_norm(in[0], ...); }, {param(randn({3, 4, 5, 2}, 1))});
//   }
// Inside TEST_P: device(), on_cuda(), dev(host) (same values and memory format on the
// device; a fresh leaf that requires grad when host does; on the CPU, host itself),
// dparam(host) (= dev(param(host))), gradcheck(...) (test_util.h's, evaluated on this
// device from host inputs). Helpers outside the fixture take a Device and call
// to_device(d, t) / gradcheck(d, ...). Results come back with host(t) or through
// expect_close / expect_bitwise_equal, which read any device.
// Rules: the same tolerances on both devices unless a comment gives the reason (cuDNN's
// algorithms); TF32 stays off (the fixture checks); state an op keeps (BatchNorm's running
// statistics, layers) is moved to the device too (Module::to(device())). Tests of CPU-only
// things (oneDNN primitive caches, Winograd, blocked formats, the CPU allocator) are plain
// TEST()s; CUDA-only ones (allocator, streams, NCCL, determinism) live in tests/gpu.
// A suite is all TEST_P or all TEST (gtest refuses a mix), and is not named like a type of
// namespace nf (Shape, Dropout, MemoryFormat: ambiguous under `using namespace nf`).
#pragma once
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "framework/backends/cuda/device.h"
#include "framework/core/storage.h"
#include "test_util.h"

namespace nf {
// gtest prints a parameter in failure messages: "cpu", "cuda:0".
inline void PrintTo(const Device& d, std::ostream* os) { *os << d.str(); }
}  // namespace nf

namespace nf::test {

// host (any tensor) on device d: the same values and memory format (a CPU-only blocked
// tensor arrives channels-last), a fresh leaf that requires grad when host does. On the
// CPU: host itself.
inline Tensor to_device(Device d, const Tensor& host) {
  if (!host.defined() || host.device() == d) return host;
  Tensor t = host.detach().to(d);
  if (host.requires_grad()) t.set_requires_grad(true);
  return t;
}

// t on the host (a copy when it lives elsewhere), e.g. to index its data<float>().
inline Tensor host(const Tensor& t) { return t.defined() ? t.to(Device::cpu()) : t; }

inline std::string device_param_name(const ::testing::TestParamInfo<Device>& i) {
  return i.param.is_cuda() ? "CUDA" : "CPU";
}

class DeviceTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (GetParam().is_cuda()) {
      if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
      ASSERT_FALSE(cuda::allow_tf32()) << "TF32 is on: the typed tests compare fp32 results";
    }
  }
  Device device() const { return GetParam(); }
  bool on_cuda() const { return GetParam().is_cuda(); }
  Tensor dev(const Tensor& host) const { return to_device(GetParam(), host); }
  Tensor dparam(const Tensor& host) const { return dev(param(host)); }
  void gradcheck(const std::string& what, const GradFn& f, const std::vector<Tensor>& inputs, double eps = 1e-2,
                 double rtol = 2e-2, double atol = 2e-3, int64_t max_elems = 200) const {
    test::gradcheck(GetParam(), what, f, inputs, eps, rtol, atol, max_elems);
  }
};

// Counts the /CUDA instances and prints once, after the last test:
//   typed device tests: N instantiated for CUDA (M run, K skipped: no GPU)
class DeviceCountEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    const ::testing::UnitTest& u = *::testing::UnitTest::GetInstance();
    int n = 0, run = 0, skipped = 0, unselected = 0;
    for (int i = 0; i < u.total_test_suite_count(); ++i) {
      const ::testing::TestSuite& s = *u.GetTestSuite(i);
      for (int j = 0; j < s.total_test_count(); ++j) {
        const ::testing::TestInfo& t = *s.GetTestInfo(j);
        const std::string name = t.name();
        if (name.size() < 5 || name.compare(name.size() - 5, 5, "/CUDA") != 0) continue;
        ++n;
        if (!t.should_run()) ++unselected;
        else if (t.result()->Skipped()) ++skipped;
        else ++run;
      }
    }
    std::printf("typed device tests: %d instantiated for CUDA (%d run, %d skipped%s", n, run, skipped,
                cuda_available() ? "" : ": no GPU");
    if (unselected) std::printf(", %d not selected by the filter", unselected);
    std::printf(")\n");
  }
};
inline ::testing::Environment* const kDeviceCountEnvironment =
    ::testing::AddGlobalTestEnvironment(new DeviceCountEnvironment);

}  // namespace nf::test

// The fixture class `Suite` and its instances on the CPU and on CUDA (names end /CPU,
// /CUDA). Then TEST_P(Suite, Name) { ... } as many times as needed.
#define NF_DEVICE_TEST_SUITE(Suite)                                                                     \
  class Suite : public ::nf::test::DeviceTest {};                                                       \
  INSTANTIATE_TEST_SUITE_P(, Suite, ::testing::Values(::nf::Device::cpu(), ::nf::Device::cuda()), \
                           ::nf::test::device_param_name)
