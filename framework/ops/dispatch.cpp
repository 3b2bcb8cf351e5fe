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

}  // namespace nf::ops
