// The CUDA backend's per-device state, created once on first use: the current device
// (the tensor's), one non-blocking stream per device that every op, copy and kernel
// of normforge is ordered on, the cuDNN and cuBLAS handles bound to that stream, and a
// reusable workspace for cuDNN. Because everything runs on one stream, memory freed by
// a Tensor may be reused by the next allocation without waiting (stream order).
// Internal to framework/backends/cuda (it includes the CUDA, cuDNN and cuBLAS headers);
// code outside the backend uses the pure device.h, which this header includes.
//
// The backend's .cpp/.cu files use them under a cuda::Scope (device.h):
//   kernel<<<blocks, threads, 0, cuda::stream()>>>(...); cuda::check_launch("relu");
//   cuda::check(cudnnXxx(cuda::cudnn(), ...), "cudnnXxx");
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "framework/backends/cuda/device.h"

namespace nf::cuda {

// Throw nf::Error("<what>: <the library's message>") on failure.
void check(cudaError_t e, const char* what);
void check(cudnnStatus_t s, const char* what);
void check(cublasStatus_t s, const char* what);
void check_launch(const char* kernel);  // cudaGetLastError after a <<<>>> launch

int current_device();
cudaStream_t stream();       // the current device's stream
cudnnHandle_t cudnn();       // bound to stream()
cublasHandle_t cublas();     // bound to stream(); FP32 math by default
// A device buffer of at least `bytes` for cuDNN/cuBLAS workspaces (grows, never shrinks;
// only valid until the next call, on the current device's stream).
void* workspace(size_t bytes);
void synchronize();  // waits for the current device's stream

// Grid size for n elements at `threads` per block, capped so a grid-stride loop covers it.
inline unsigned blocks_for(int64_t n, int threads = 256) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535 * 4) b = 65535 * 4;
  return static_cast<unsigned>(b);
}

}  // namespace nf::cuda
