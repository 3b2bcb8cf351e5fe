// add, relu and scale through oneDNN's binary and eltwise primitives (see eltwise.h).
// relu's backward uses its output (relu_use_dst_for_bwd).
#include "framework/backends/cpu/eltwise.h"

#include "framework/backends/cpu/onednn.h"

namespace nf::cpu {

void eltwise_add(const Tensor& a, const Tensor& b, const Tensor& out) {
  auto& p = cpu::cached<dnnl::binary>(cpu::key("add", a.shape(), int(a.dtype()), int(a.memory_format())), [&] {
    auto md = cpu::desc(a);
    dnnl::binary::desc d(dnnl::algorithm::binary_add, md, md, md);
    return dnnl::binary(dnnl::binary::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC_0, cpu::memory(a)}, {DNNL_ARG_SRC_1, cpu::memory(b)},
                            {DNNL_ARG_DST, cpu::memory(out)}});
}

void eltwise_relu(const Tensor& x, const Tensor& y) {
  auto& p = cpu::cached<dnnl::eltwise_forward>(cpu::key("relu_fwd", x.shape(), int(x.memory_format())), [&] {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                  cpu::desc(x), 0.f, 0.f);
    return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(y)}});
}

void eltwise_relu_backward(const Tensor& y, const Tensor& g, const Tensor& dx) {
  auto& p = cpu::cached<dnnl::eltwise_backward>(cpu::key("relu_bwd", g.shape(), int(g.memory_format())), [&] {
    auto md = cpu::desc(g);
    dnnl::eltwise_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                                   md, 0.f, 0.f);
    dnnl::eltwise_forward::primitive_desc fpd(fd, cpu::engine());
    dnnl::eltwise_backward::desc d(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, md, md, 0.f, 0.f);
    return dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(d, cpu::engine(), fpd));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_DST, cpu::memory(y)},
                            {DNNL_ARG_DIFF_DST, cpu::memory(g)},
                            {DNNL_ARG_DIFF_SRC, cpu::memory(dx)}});
}

// y = s * x + 0, oneDNN eltwise linear.
void eltwise_scale(const Tensor& x, float s, const Tensor& y) {
  const float alpha = s, beta = 0.f;
  auto& p = cpu::cached<dnnl::eltwise_forward>(cpu::key("linear", x.shape(), int(x.memory_format()), alpha, beta), [&] {
    auto md = cpu::desc(x);
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear, md, alpha, beta);
    return dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu::engine()));
  });
  p.execute(cpu::stream(), {{DNNL_ARG_SRC, cpu::memory(x)}, {DNNL_ARG_DST, cpu::memory(y)}});
}

}  // namespace nf::cpu
