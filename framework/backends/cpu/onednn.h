// The CPU backend: one oneDNN engine and stream, a cache of primitives keyed by op,
// shapes and attributes (so a steady-state training step creates no primitive), and
// helpers that wrap Tensor memory as dnnl::memory without copying.
// Activations may be row-major (NCHW), channels-last (NHWC) or blocked (nChw16c); the
// first two are plain strided layouts to oneDNN, the third its nChw16c tag, so memory()
// wraps any of them without a copy.
#pragma once
#include <dnnl.hpp>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "framework/core/tensor.h"

namespace nf::cpu {

dnnl::engine& engine();
dnnl::stream& stream();

dnnl::memory::dims dims(const Shape& s);
dnnl::memory::data_type data_type(DType t);
// Row-major descriptor for a tensor of this shape (abcd... tag).
dnnl::memory::desc plain_desc(const Shape& shape, DType dtype = DType::F32);
// A dense tensor of this shape in memory format f (NCHW or NHWC strides, or nChw16c).
dnnl::memory::desc desc(const Shape& shape, MemoryFormat f, DType dtype = DType::F32);
// The tensor's own layout (its strides, or nChw16c; must be dense or blocked).
dnnl::memory::desc desc(const Tensor& t);
// dnnl::memory over the tensor's own buffer (its layout, must be a dense CPU tensor).
dnnl::memory memory(const Tensor& t);
dnnl::memory memory(const dnnl::memory::desc& md, const Tensor& t);

// A reusable buffer for primitive scratchpads and layout reorders: grows, never shrinks.
dnnl::memory scratch_memory(const dnnl::memory::desc& md, int slot = 0);
// Primitive attributes asking for a user-provided scratchpad (scratch_memory), so that
// primitives share the scratch buffers instead of each allocating its own.
dnnl::primitive_attr user_scratchpad();

// Builds a cache key from any streamable values: key("conv", shape, stride, ...).
inline void append_key(std::ostringstream& os, const Shape& s) {
  for (int64_t d : s) os << d << 'x';
  os << ';';
}
template <class T>
void append_key(std::ostringstream& os, const T& v) {
  os << v << ';';
}
template <class... Args>
std::string key(const Args&... args) {
  std::ostringstream os;
  (append_key(os, args), ...);
  return os.str();
}

// The primitive cache: returns the entry stored under `k`, making it on first use.
// Entries live for the process (per thread); the key must include every attribute
// that changes the primitive.
std::shared_ptr<void>& cache_slot(const std::string& k);
template <class T>
T& cached(const std::string& k, const std::function<T()>& make) {
  std::shared_ptr<void>& slot = cache_slot(k);
  if (!slot) slot = std::make_shared<T>(make());
  return *static_cast<T*>(slot.get());
}
size_t cache_size();  // number of cached entries (tests check it stays constant)

// Whether oneDNN runs its AVX-512 kernels here (the CPU has them and DNNL_MAX_CPU_ISA
// allows them): its Winograd and nChw16c kernels exist only for AVX-512.
bool avx512_kernels();

// Sets the number of CPU threads oneDNN and our loops use (0 = all cores).
void set_num_threads(int n);
int num_threads();

}  // namespace nf::cpu
