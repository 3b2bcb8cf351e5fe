// The CUDA backend's per-device context (context.h: error checks, the stream, cuDNN/cuBLAS
// handles and workspace of each device) and the device scope and math settings that
// code outside the backend uses (device.h).
#include "framework/backends/cuda/context.h"

#include <array>
#include <memory>
#include <string>

#include "framework/core/error.h"

namespace nf::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}
void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw Error(std::string(what) + ": " + cudnnGetErrorString(s));
}
void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string(what) + ": " + cublasGetStatusString(s));
}
void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

namespace {

constexpr int kMaxDevices = 16;

struct DeviceState {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

bool g_allow_tf32 = false;
bool g_cudnn_benchmark = false;

// Never destroyed: handles must not be released after the driver shuts down at exit.
DeviceState& state() {
  static std::array<DeviceState*, kMaxDevices> states{};
  const int d = current_device();
  NF_CHECK(d >= 0 && d < kMaxDevices, "CUDA device index " + std::to_string(d) + " is out of range");
  if (!states[d]) {
    auto* s = new DeviceState;
    check(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudnnCreate(&s->cudnn), "cudnnCreate");
    check(cudnnSetStream(s->cudnn, s->stream), "cudnnSetStream");
    check(cublasCreate(&s->cublas), "cublasCreate");
    check(cublasSetStream(s->cublas, s->stream), "cublasSetStream");
    check(cublasSetMathMode(s->cublas, g_allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH),
          "cublasSetMathMode");
    states[d] = s;
  }
  return *states[d];
}

}  // namespace

Scope::Scope(Device d) {
  NF_CHECK(d.is_cuda(), "cuda::Scope on " + d.str());
  check(cudaGetDevice(&prev_), "cudaGetDevice");
  if (prev_ != d.index) check(cudaSetDevice(d.index), "cudaSetDevice");
}
Scope::~Scope() {
  int now = 0;
  if (cudaGetDevice(&now) == cudaSuccess && now != prev_) cudaSetDevice(prev_);
}

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

cudaStream_t stream() { return state().stream; }
cudnnHandle_t cudnn() { return state().cudnn; }
cublasHandle_t cublas() { return state().cublas; }

void* workspace(size_t bytes) {
  DeviceState& s = state();
  if (bytes > s.workspace_bytes) {
    if (s.workspace) {
      check(cudaStreamSynchronize(s.stream), "cudaStreamSynchronize");
      check(cudaFree(s.workspace), "cudaFree");
      s.workspace = nullptr;
    }
    check(cudaMalloc(&s.workspace, bytes), "cudaMalloc (workspace)");
    s.workspace_bytes = bytes;
  }
  return s.workspace;
}

void synchronize() { check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

void set_allow_tf32(bool on) {
  g_allow_tf32 = on;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return;
  // Handles made later pick the flag up; re-set the current device's if it exists.
  check(cublasSetMathMode(cublas(), on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
}
bool allow_tf32() { return g_allow_tf32; }

void set_cudnn_benchmark(bool on) { g_cudnn_benchmark = on; }
bool cudnn_benchmark() { return g_cudnn_benchmark; }

}  // namespace nf::cuda
