// The flat elementwise kernels of ops/eltwise.cpp: out[i] = f(a[i], b[i]) over n dense
// F32 elements, one grid-stride kernel per functor (unary ops pass their input as both
// operands and ignore the second). When n % 4 == 0 and every pointer is 16-byte aligned
// the kernel reads and writes float4s; the result is the same either way.
#include <cmath>

#include "framework/backends/cuda/context.h"
#include "framework/backends/cuda/eltwise.h"

namespace nf::cuda {

namespace {

struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Relu {  // NaN propagates, as torch.relu
  __device__ float operator()(float x, float) const { return x > 0.f || isnan(x) ? x : 0.f; }
};
struct ReluBackward {  // from the output: y > 0 exactly where x > 0
  __device__ float operator()(float y, float g) const { return y > 0.f ? g : 0.f; }
};
struct Scale {
  float s;
  __device__ float operator()(float x, float) const { return x * s; }
};

template <class F>
__global__ void map_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                           int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = f(a[i], b[i]);
}

template <class F>
__global__ void map4_kernel(const float4* __restrict__ a, const float4* __restrict__ b, float4* __restrict__ out,
                            int64_t n4, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(f(x.x, y.x), f(x.y, y.y), f(x.z, y.z), f(x.w, y.w));
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class F>
void map(const float* a, const float* b, float* out, int64_t n, F f, const char* name) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  if (n % 4 == 0 && aligned16(a) && aligned16(b) && aligned16(out))
    map4_kernel<<<blocks_for(n / 4, kThreads), kThreads, 0, stream()>>>(
        reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b), reinterpret_cast<float4*>(out), n / 4, f);
  else
    map_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(a, b, out, n, f);
  check_launch(name);
}

}  // namespace

void eltwise_add(const float* a, const float* b, float* out, int64_t n) { map(a, b, out, n, Add{}, "add kernel"); }
void eltwise_relu(const float* x, float* y, int64_t n) { map(x, x, y, n, Relu{}, "relu kernel"); }
void eltwise_relu_backward(const float* y, const float* g, float* dx, int64_t n) {
  map(y, g, dx, n, ReluBackward{}, "relu backward kernel");
}
void eltwise_scale(const float* x, float s, float* y, int64_t n) { map(x, x, y, n, Scale{s}, "mul_scalar kernel"); }

}  // namespace nf::cuda
