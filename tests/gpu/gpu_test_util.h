// Helpers of the GPU test binary (nf_gpu_tests): run an op on the CPU and on CUDA on
// the same inputs and compare the outputs and input gradients elementwise,
//   |gpu - cpu| <= atol + rtol * |cpu|   (fp32: atol 1e-6, rtol 1e-4),
// printing the worst error seen. Self-contained (no PyTorch parity dumps), so the
// binary runs on a GPU machine that has only the bundle (tools/scripts/gpu/bundle.sh).
// Every test starts with NF_REQUIRE_GPU(): skipped where no CUDA device is found; else
// the CPU side runs direct convolutions (the CPU default, Winograd, differs from direct
// by ~1e-5, more than these tolerances).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/autograd.h"
#include "framework/core/tensor.h"
#include "framework/ops/conv.h"
#include "random_tensors.h"

#define NF_REQUIRE_GPU()                                                       \
  if (!::nf::cuda_available()) GTEST_SKIP() << "no CUDA GPU on this machine"; \
  ::nf::ops::set_cpu_conv_algorithm(::nf::ops::CpuConvAlgorithm::Direct)

namespace nf::gpu_test {

constexpr double kRtol = 1e-4, kAtol = 1e-6;

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

// Elementwise closeness of `actual` (any device) to `expected`; prints the worst
// absolute error, the worst relative one and the worst error / tolerance ratio.
inline void expect_close(const std::string& what, const Tensor& actual, const Tensor& expected, double rtol = kRtol,
                         double atol = kAtol) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  ASSERT_TRUE(expected.defined()) << what << ": reference undefined";
  ASSERT_EQ(shape_str(actual.shape()), shape_str(expected.shape())) << what;
  const std::vector<float> a = actual.to_vector(), b = expected.to_vector();
  double max_abs = 0, max_rel = 0, worst_ratio = 0;
  size_t bad = 0, worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i])), tol = atol + rtol * std::fabs(b[i]);
    max_abs = std::max(max_abs, d);
    if (b[i] != 0) max_rel = std::max(max_rel, d / std::fabs(b[i]));
    const double ratio = std::isnan(d) ? INFINITY : d / tol;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
    if (!(d <= tol)) ++bad;
  }
  std::printf("[gpu~cpu] %-52s max_abs=%.3g max_rel=%.3g err/tol=%.3f (n=%zu)\n", what.c_str(), max_abs, max_rel,
              worst_ratio, a.size());
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << a.size() << " elements off; worst at " << worst << ": "
                     << (a.empty() ? 0.f : a[worst]) << " vs " << (b.empty() ? 0.f : b[worst]) << " (rtol " << rtol
                     << ", atol " << atol << ")";
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

// One run of an op on one device: its output and the gradients of its inputs
// (undefined where an input needs none).
struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Copies `inputs` (CPU tensors) to `device` keeping each one's memory format (fresh
// leaves, requires_grad as the original), runs f, then backward of
// L = sum(out * R), R a fixed random tensor in out's memory format.
inline Run run_on(Device device, const std::vector<Tensor>& inputs, const OpFn& f, uint64_t seed = 4242) {
  std::vector<Tensor> in;
  bool any_grad = false;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      in.emplace_back();
      continue;
    }
    Tensor c = device.is_cpu() ? t.clone() : t.to(device);
    if (t.requires_grad()) c.set_requires_grad(true);
    any_grad |= t.requires_grad();
    in.push_back(c);
  }
  Run r;
  r.out = f(in);
  if (any_grad && grad_enabled()) {
    Tensor R = randn(r.out.shape(), seed).contiguous(r.out.memory_format()).to(device);
    r.out.backward(R);
  }
  for (const Tensor& t : in) r.grads.push_back(t.defined() && t.requires_grad() ? t.grad() : Tensor());
  return r;
}

// Runs f on the CPU and on CUDA and compares the output and every input gradient.
// `x_format`, when given, is the memory format the CUDA output must keep (ops keep
// their input's format on CUDA).
inline void check_op(const std::string& what, const std::vector<Tensor>& inputs, const OpFn& f,
                     const std::vector<MemoryFormat>& keeps_format = {}) {
  const Run c = run_on(Device::cpu(), inputs, f);
  const Run g = run_on(cuda(), inputs, f);
  ASSERT_TRUE(g.out.defined()) << what;
  EXPECT_TRUE(g.out.device().is_cuda()) << what << ": output on " << g.out.device().str();
  for (MemoryFormat fm : keeps_format)
    EXPECT_TRUE(g.out.is_contiguous(fm)) << what << ": CUDA output is not " << fmt_name(fm) << " like its input";
  expect_close(what + " out", g.out, c.out);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    ASSERT_TRUE(c.grads[i].defined()) << what << ": CPU gave input " << i << " no gradient";
    ASSERT_TRUE(g.grads[i].defined()) << what << ": CUDA gave input " << i << " no gradient";
    EXPECT_TRUE(g.grads[i].device().is_cuda()) << what << ": grad " << i << " on " << g.grads[i].device().str();
    expect_close(what + " grad[" + std::to_string(i) + "]", g.grads[i], c.grads[i]);
  }
}

// A leaf that requires a gradient (CPU).
inline Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

// Image tensor [N,C,H,W] of random values in the given memory format.
inline Tensor image(const Shape& s, uint64_t seed, MemoryFormat f, float scale = 1.f) {
  return randn(s, seed, scale).contiguous(f);
}

}  // namespace nf::gpu_test
