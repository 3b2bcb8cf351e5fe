// The CUDA hooks of storage.h for a build without the CUDA backend: no GPU, and a
// clear error if one is asked for. With NF_WITH_CUDA they live in framework/backends/cuda.
#ifndef NF_WITH_CUDA
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf {

namespace {
[[noreturn]] void no_cuda() { throw Error("normforge was built without CUDA"); }
}  // namespace

bool cuda_available() { return false; }
void* cuda_alloc(size_t, int) { no_cuda(); }
void cuda_free(void*, size_t, int) {}
size_t cuda_cached_bytes() { return 0; }
void cuda_copy(void*, const void*, size_t, bool, bool, int) { no_cuda(); }
void cuda_synchronize(int) { no_cuda(); }
void* cuda_host_alloc(size_t) { no_cuda(); }
void cuda_host_free(void*) {}
void cuda_copy_strided(const void*, void*, size_t, int, const int64_t*, const int64_t*, const int64_t*, int) {
  no_cuda();
}
void cuda_fill(void*, size_t, uint64_t, int64_t, int) { no_cuda(); }

}  // namespace nf
#endif
