// SGD: option checks (PyTorch's messages) and the per-parameter momentum buffer.
#include "framework/optim/sgd.h"

#include <cmath>

#include "framework/ops/optimizer_update.h"

namespace nf::optim {

namespace {

std::vector<StateKind> sgd_kinds(const SgdOptions& o) {
  if (o.momentum == 0) return {};
  return {{"momentum_buffer"}};
}

const SgdOptions& checked(const SgdOptions& o) {
  NF_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "SGD: invalid momentum value " + format_value(o.momentum));
  NF_CHECK(std::isfinite(o.dampening), "SGD: invalid dampening value " + format_value(o.dampening));
  NF_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: Nesterov momentum requires a momentum and zero dampening");
  return o;
}

}  // namespace

SGD::SGD(NamedTensors params, const SgdOptions& o)
    : SGD(std::vector<ParamGroup>{{std::move(params), o.lr, o.weight_decay}}, o) {}

SGD::SGD(std::vector<ParamGroup> groups, const SgdOptions& o)
    : Optimizer("SGD", std::move(groups), sgd_kinds(checked(o))), opt_(o) {}

void SGD::update(const ParamGroup& group, const std::vector<GradParam>& params) {
  ops::SgdHyper h{group.lr, opt_.momentum, opt_.dampening, group.weight_decay, opt_.nesterov};
  std::vector<ops::SgdSlot> slots;
  for (const GradParam& gp : params) {
    ops::SgdSlot& s = slots.emplace_back(ops::SgdSlot{gp.param, gp.grad, Tensor(), false});
    if (opt_.momentum == 0) continue;
    if (Tensor* buf = find_state("momentum_buffer", gp.name)) {
      s.momentum_buf = *buf;
    } else {  // first step: the update fills the buffer with d_p
      s.momentum_buf = Tensor::empty(gp.param.shape(), DType::F32, gp.param.device());
      s.first_step = true;
    }
  }
  ops::sgd_update_multi(slots, h);
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i].first_step) set_state("momentum_buffer", params[i].name, slots[i].momentum_buf);
}

}  // namespace nf::optim
