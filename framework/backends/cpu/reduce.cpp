// sum_except_dim1 through oneDNN's reduction primitive (see reduce.h).
#include "framework/backends/cpu/reduce.h"

#include "framework/backends/cpu/onednn.h"

namespace nf::cpu {

void sum_except_dim1(const Tensor& g, Tensor& out) {
  if (g.numel() == g.size(1)) {  // nothing to sum ([1, C, 1...]): oneDNN refuses a reduction with src == dst
    out.copy_(g.view({g.size(1)}));
    return;
  }
  Shape kept(g.dim(), 1);
  kept[1] = g.size(1);
  auto& p = cpu::cached<dnnl::reduction>(cpu::key("sum_except_dim1", g.shape()), [&] {
    dnnl::reduction::desc d(dnnl::algorithm::reduction_sum, cpu::plain_desc(g.shape()), cpu::plain_desc(kept), 0.f,
                            0.f);
    return dnnl::reduction(dnnl::reduction::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(g)}, {DNNL_ARG_DST, cpu::memory(cpu::plain_desc(kept), out)}});
}

}  // namespace nf::cpu
