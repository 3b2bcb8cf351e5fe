#include "framework/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "framework/core/error.h"

namespace nf {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    size_t rounded = (nbytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!data_) throw std::bad_alloc();
  } else {
    data_ = cuda_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (device_.is_cpu())
    std::free(data_);
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
