#include "framework/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "framework/core/cpu_allocator.h"
#include "framework/core/error.h"

namespace nf {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    data_ = cpu_alloc(nbytes);
  } else {
    data_ = cuda_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (device_.is_cpu())
    cpu_free(data_, nbytes_);
  else
    cuda_free(data_, device_.index);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  if (n == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu())
    std::memcpy(dst, src, n);
  else
    cuda_copy(dst, src, n, dst_dev.is_cuda(), src_dev.is_cuda());
}

}  // namespace nf
