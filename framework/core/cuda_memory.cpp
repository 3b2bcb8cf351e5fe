// CUDA memory hooks for Storage. With NF_WITH_CUDA they call the CUDA runtime; a build
// without CUDA reports that clearly. Any runtime error from cudaGetDeviceCount (as on
// a machine with the toolkit but no driver) means "no GPU".
#include "framework/core/error.h"
#include "framework/core/storage.h"

#ifdef NF_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace nf {

#ifdef NF_WITH_CUDA

static void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}

bool cuda_available() {
  static const bool available = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  }();
  return available;
}

void* cuda_alloc(size_t nbytes, int device) {
  NF_CHECK(cuda_available(), "no CUDA GPU was found on this machine");
  cuda_check(cudaSetDevice(device), "cudaSetDevice");
  void* p = nullptr;
  if (nbytes > 0) cuda_check(cudaMalloc(&p, nbytes), "cudaMalloc");
  return p;
}

void cuda_free(void* p, int device) {
  if (!p) return;
  cudaSetDevice(device);
  cudaFree(p);
}

void cuda_copy(void* dst, const void* src, size_t n, bool to_device, bool from_device) {
  cudaMemcpyKind kind = to_device ? (from_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : cudaMemcpyDeviceToHost;
  cuda_check(cudaMemcpy(dst, src, n, kind), "cudaMemcpy");
}

#else

bool cuda_available() { return false; }
void* cuda_alloc(size_t, int) { throw Error("normforge was built without CUDA"); }
void cuda_free(void*, int) {}
void cuda_copy(void*, const void*, size_t, bool, bool) { throw Error("normforge was built without CUDA"); }

#endif

}  // namespace nf
