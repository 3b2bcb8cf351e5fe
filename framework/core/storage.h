// Storage: one allocation on one device, shared by every Tensor that views it.
// CPU memory is 64-byte aligned (what oneDNN's AVX-512 kernels like) and comes from
// the CPU backend's caching allocator (framework/backends/cpu/allocator.h). CUDA memory
// comes from the CUDA backend's caching allocator (framework/backends/cuda/memory.cpp).
// Core declares the allocation hooks below and the backends implement them, so
// core includes no backend.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "framework/core/dtype.h"

namespace nf {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

// Copies n bytes between any two devices (host<->device, device<->device, host<->host).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n);

// CPU hooks, implemented by the CPU backend (framework/backends/cpu/allocator.cpp).
void* cpu_alloc(size_t nbytes);           // 64-byte aligned
void cpu_free(void* p, size_t nbytes);    // nbytes: what cpu_alloc was asked for

// CUDA hooks, implemented by the CUDA backend (framework/backends/cuda/memory.cpp and
// tensor_kernels.cu), or by framework/backends/cuda/unavailable.cpp in a build without it
// (no GPU; the rest throw).
bool cuda_available();  // true only when a device is present and the driver works
void* cuda_alloc(size_t nbytes, int device);  // from the caching allocator
void cuda_free(void* p, size_t nbytes, int device);  // back to the cache; nbytes as allocated
size_t cuda_cached_bytes();                   // free bytes held by the cache
// Ordered on the device's stream; a copy to the host waits for it to finish.
void cuda_copy(void* dst, const void* src, size_t n, bool to_device, bool from_device, int device);
void cuda_synchronize(int device);    // waits until the device's stream has finished
void* cuda_host_alloc(size_t nbytes);  // pinned (page-locked) host memory
void cuda_host_free(void* p);
// dst[i] = src[i] over an index space `shape` (ndim <= 8), each side with its own
// strides in elements of elem_size (2, 4 or 8) bytes; both on `device`.
void cuda_copy_strided(const void* src, void* dst, size_t elem_size, int ndim, const int64_t* shape,
                       const int64_t* src_strides, const int64_t* dst_strides, int device);
// n elements of elem_size bytes, each set to the low elem_size bytes of `bits`.
void cuda_fill(void* dst, size_t elem_size, uint64_t bits, int64_t n, int device);

}  // namespace nf
