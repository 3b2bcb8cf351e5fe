#include "framework/core/storage.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

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
    cuda_free(data_, nbytes_, device_.index);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  if (n == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    // Large host copies (activations) in parallel chunks: one core cannot saturate memory.
    constexpr size_t kChunk = size_t{1} << 20;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for if (chunks > 1)
    for (int64_t i = 0; i < chunks; ++i) {
      const size_t off = static_cast<size_t>(i) * kChunk;
      std::memcpy(static_cast<char*>(dst) + off, static_cast<const char*>(src) + off, std::min(kChunk, n - off));
    }
  } else
    cuda_copy(dst, src, n, dst_dev.is_cuda(), src_dev.is_cuda(), dst_dev.is_cuda() ? dst_dev.index : src_dev.index);
}

}  // namespace nf
