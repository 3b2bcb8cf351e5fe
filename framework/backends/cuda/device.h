// The CUDA backend's device scope and process-wide math settings, for code outside
// framework/backends/cuda (ops, tools, tests). Pure C++ (no CUDA header): in a build
// without the CUDA backend, unavailable.cpp defines them (Scope and the setters throw,
// the getters return false).
//   cuda::Scope s(x.device());   // makes x's device current for the scope
//   cuda::set_allow_tf32(true);  // before the first CUDA op, e.g. from the recipe
#pragma once
#include "framework/core/dtype.h"

namespace nf::cuda {

// Makes `d` the current device for its lifetime (restores the previous one).
class Scope {
 public:
  explicit Scope(Device d);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  int prev_ = 0;
};

// TF32 tensor-core math for fp32 convolutions and matmuls (PyTorch's allow_tf32).
// Off by default: fp32 then agrees with the CPU path to ~1e-6 relative.
void set_allow_tf32(bool on);
bool allow_tf32();

// Convolution algorithms chosen by timing them all once per shape (PyTorch's
// cudnn.benchmark) instead of by cuDNN's heuristics. Off by default: the heuristics'
// choice is the same in every run, so results are reproducible across runs.
void set_cudnn_benchmark(bool on);
bool cudnn_benchmark();

}  // namespace nf::cuda
