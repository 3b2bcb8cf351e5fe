// sum_except_dim1 through oneDNN's reduction primitive (cached by shape).
#include "framework/ops/reduce.h"

#include "framework/backends/cpu/onednn.h"
#include "framework/ops/dispatch.h"

namespace nf::ops {

Tensor sum_except_dim1(const Tensor& g_in) {
  NF_CHECK(g_in.dim() >= 2, "sum_except_dim1: need at least 2 dims, got " + shape_str(g_in.shape()));
  check_dtype("sum_except_dim1", g_in, DType::F32);
  Tensor g = g_in.contiguous();
  Tensor out = Tensor::empty({g.size(1)}, g.dtype(), g.device());
  switch (g.device().type) {
    case DeviceType::CPU: {
      Shape kept(g.dim(), 1);
      kept[1] = g.size(1);
      auto& p = cpu::cached<dnnl::reduction>(cpu::key("sum_except_dim1", g.shape()), [&] {
        dnnl::reduction::desc d(dnnl::algorithm::reduction_sum, cpu::plain_desc(g.shape()), cpu::plain_desc(kept), 0.f,
                                0.f);
        return dnnl::reduction(dnnl::reduction::primitive_desc(d, cpu::engine()));
      });
      p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(g)}, {DNNL_ARG_DST, cpu::memory(cpu::plain_desc(kept), out)}});
      break;
    }
    default: unsupported_device("sum_except_dim1", g);
  }
  return out;
}

}  // namespace nf::ops
