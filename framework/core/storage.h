// Storage: one allocation on one device, shared by every Tensor that views it.
// CPU memory is 64-byte aligned (what oneDNN's AVX-512 kernels like) and comes from
// the caching allocator in cpu_allocator.h. CUDA memory comes from the CUDA
// backend's allocator (framework/core/cuda_memory.cpp).
#pragma once
#include <cstddef>
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

// CUDA memory hooks, implemented in cuda_memory.cpp (throwing without a CUDA build).
bool cuda_available();  // true only when a device is present and the driver works
void* cuda_alloc(size_t nbytes, int device);
void cuda_free(void* p, int device);
void cuda_copy(void* dst, const void* src, size_t n, bool to_device, bool from_device);

}  // namespace nf
