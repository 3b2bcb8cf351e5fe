#include "framework/ops/dispatch.h"

namespace nf::ops {

void unsupported_device(const char* op, const Tensor& t) {
  throw Error(std::string(op) + " is not available on " + t.device().str() + " in this build");
}

void check_same_device(const char* op, const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    if (t.defined() && t.device() != ts[0].device())
      throw Error(std::string(op) + ": tensors on " + ts[0].device().str() + " and " + t.device().str());
}

void check_dtype(const char* op, const Tensor& t, DType dt) {
  NF_CHECK(t.dtype() == dt, std::string(op) + ": expected " + dtype_name(dt) + ", got " + t.str());
}

void check_dim(const char* op, const Tensor& t, int64_t ndim) {
  NF_CHECK(t.dim() == ndim, std::string(op) + ": expected a " + std::to_string(ndim) + "-d tensor, got " + t.str());
}

void check_channel_vector(const char* op, const Tensor& x, const Tensor& t, const char* name, int64_t n) {
  if (!t.defined()) return;
  check_dtype(op, t, DType::F32);
  NF_CHECK(t.shape() == Shape{n}, std::string(op) + ": " + name + " has shape " + shape_str(t.shape()) +
                                      ", expected [" + std::to_string(n) + "] for input " + shape_str(x.shape()));
}

MemoryFormat channel_rows_format(const Tensor& x) {
  if (x.device().is_cpu())
    return x.memory_format() == MemoryFormat::Blocked16 ? MemoryFormat::Blocked16 : MemoryFormat::ChannelsLast;
  return x.is_dense() ? x.memory_format() : MemoryFormat::Contiguous;
}

}  // namespace nf::ops
