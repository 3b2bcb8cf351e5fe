// Device-side Tensor helpers behind the storage.h hooks: the strided copy that
// Tensor::contiguous(format) and copy_ use between memory formats on the GPU, and fill.
// Both are grid-stride loops over the destination's elements.
#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf {

namespace {

constexpr int kMaxDims = 8;

struct Strided {
  int ndim;
  int64_t shape[kMaxDims], src[kMaxDims], dst[kMaxDims];
};

template <class T>
__global__ void copy_strided_kernel(const T* __restrict__ src, T* __restrict__ dst, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, so = 0, dof = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      const int64_t k = rem % s.shape[d];
      rem /= s.shape[d];
      so += k * s.src[d];
      dof += k * s.dst[d];
    }
    dst[dof] = src[so];
  }
}

template <class T>
__global__ void fill_kernel(T* __restrict__ dst, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

}  // namespace

void cuda_copy_strided(const void* src, void* dst, size_t elem_size, int ndim, const int64_t* shape,
                       const int64_t* src_strides, const int64_t* dst_strides, int device) {
  cuda::Scope scope(Device::cuda(device));
  NF_CHECK(ndim <= kMaxDims, "cuda strided copy: more than 8 dimensions");
  Strided s{};
  s.ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    s.shape[d] = shape[d];
    s.src[d] = src_strides[d];
    s.dst[d] = dst_strides[d];
    n *= shape[d];
  }
  if (n == 0) return;
  const unsigned blocks = cuda::blocks_for(n);
  switch (elem_size) {
    case 2: copy_strided_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), s, n); break;
    case 4: copy_strided_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), s, n); break;
    case 8: copy_strided_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), s, n); break;
    default: throw Error("cuda strided copy: element size " + std::to_string(elem_size));
  }
  cuda::check_launch("copy_strided_kernel");
}

void cuda_fill(void* dst, size_t elem_size, uint64_t bits, int64_t n, int device) {
  if (n == 0) return;
  cuda::Scope scope(Device::cuda(device));
  const unsigned blocks = cuda::blocks_for(n);
  switch (elem_size) {
    case 2: fill_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<uint16_t*>(dst), uint16_t(bits), n); break;
    case 4: fill_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<uint32_t*>(dst), uint32_t(bits), n); break;
    case 8: fill_kernel<<<blocks, 256, 0, cuda::stream()>>>(static_cast<uint64_t*>(dst), uint64_t(bits), n); break;
    default: throw Error("cuda fill: element size " + std::to_string(elem_size));
  }
  cuda::check_launch("fill_kernel");
}

}  // namespace nf
