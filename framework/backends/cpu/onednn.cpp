#include "framework/backends/cpu/onednn.h"

#include <omp.h>

#include <cstdlib>

#include <unordered_map>
#include <vector>

namespace nf::cpu {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::memory::dims dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory::data_type data_type(DType t) {
  switch (t) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::F16: return dnnl::memory::data_type::f16;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    case DType::I64: break;
  }
  throw Error(std::string("oneDNN has no ") + dtype_name(t) + " tensors");
}

dnnl::memory::desc plain_desc(const Shape& shape, DType dtype) {
  Shape s = shape.empty() ? Shape{1} : shape;
  return dnnl::memory::desc(dims(s), data_type(dtype), dims(contiguous_strides(s)));
}

dnnl::memory::desc desc(const Shape& shape, MemoryFormat f, DType dtype) {
  if (shape.empty()) return plain_desc({1}, dtype);
  if (f == MemoryFormat::Blocked16)
    return dnnl::memory::desc(dims(shape), data_type(dtype), dnnl::memory::format_tag::nChw16c);
  return dnnl::memory::desc(dims(shape), data_type(dtype), dims(format_strides(shape, f)));
}

dnnl::memory::desc desc(const Tensor& t) { return desc(t.shape(), t.memory_format(), t.dtype()); }

dnnl::memory memory(const Tensor& t) { return memory(desc(t), t); }

dnnl::memory memory(const dnnl::memory::desc& md, const Tensor& t) {
  NF_CHECK(t.device().is_cpu() && (t.is_dense() || t.memory_format() == MemoryFormat::Blocked16),
           "oneDNN needs a dense CPU tensor, got " + t.str());
  return dnnl::memory(md, engine(), t.raw_data());
}

// The buffers come from malloc, not the caching allocator: they only grow, while the
// primitives are first built, and an outgrown one, kept in that cache at a size nothing
// else asks for, would stay resident (Winograd's scratchpads step through 8, 84, 91 and
// 140 MB in ResNet-18: +250 MiB of peak RSS).
dnnl::memory scratch_memory(const dnnl::memory::desc& md, int slot) {
  struct Buffer {
    std::unique_ptr<void, decltype(&std::free)> data{nullptr, &std::free};
    size_t nbytes = 0;
  };
  thread_local std::vector<Buffer> buffers;
  if (buffers.size() <= static_cast<size_t>(slot)) buffers.resize(slot + 1);
  Buffer& buf = buffers[slot];
  const size_t need = md.get_size();
  if (buf.nbytes < need) {
    buf.data.reset();
    buf.data.reset(std::aligned_alloc(64, (need + 63) / 64 * 64));
    NF_CHECK(buf.data != nullptr, "out of memory for a " + std::to_string(need) + "-byte oneDNN scratch buffer");
    buf.nbytes = need;
  }
  return dnnl::memory(md, engine(), buf.data.get());
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

namespace {
std::unordered_map<std::string, std::shared_ptr<void>>& cache_map() {
  thread_local std::unordered_map<std::string, std::shared_ptr<void>> m;
  return m;
}
}  // namespace

std::shared_ptr<void>& cache_slot(const std::string& k) { return cache_map()[k]; }
size_t cache_size() { return cache_map().size(); }

bool avx512_kernels() {
  // The ISA values are bit sets; every AVX-512 core ISA contains avx512_core's bits.
  static const bool yes = [] {
    const auto core = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
    return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & core) == core;
  }();
  return yes;
}

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : omp_get_num_procs()); }
int num_threads() { return omp_get_max_threads(); }

}  // namespace nf::cpu
