// sum_except_dim1: CPU through oneDNN's reduction primitive (backends/cpu/reduce);
// CUDA through a deterministic two-pass kernel (backends/cuda/reduce), both on
// the row-major [N, C, rest] view.
#include "framework/ops/reduce.h"

#include "framework/backends/cpu/reduce.h"
#include "framework/ops/dispatch.h"

#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/reduce.h"

namespace nf::ops {

Tensor sum_except_dim1(const Tensor& g_in) {
  NF_CHECK(g_in.dim() >= 2, "sum_except_dim1: need at least 2 dims, got " + shape_str(g_in.shape()));
  check_dtype("sum_except_dim1", g_in, DType::F32);
  Tensor g = g_in.contiguous();
  Tensor out = Tensor::empty({g.size(1)}, g.dtype(), g.device());
  switch (g.device().type) {
    case DeviceType::CPU: cpu::sum_except_dim1(g, out); break;
    case DeviceType::CUDA: {
      cuda::Scope scope(g.device());
      int64_t rest = 1;
      for (int64_t d = 2; d < g.dim(); ++d) rest *= g.size(d);
      cuda::sum_except_dim1(g.data<float>(), g.size(0), g.size(1), rest, out.data<float>(), g.device());
      break;
    }
    default: unsupported_device("sum_except_dim1", g);
  }
  return out;
}

}  // namespace nf::ops
