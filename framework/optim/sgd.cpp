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

void SGD::update(const ParamGroup& group, const std::string& name, Tensor& param, const Tensor& grad) {
  ops::SgdHyper h{group.lr, opt_.momentum, opt_.dampening, group.weight_decay, opt_.nesterov};
  if (opt_.momentum == 0) {
    Tensor none;
    ops::sgd_update(param, grad, none, h, false);
    return;
  }
  if (Tensor* buf = find_state("momentum_buffer", name)) {
    ops::sgd_update(param, grad, *buf, h, false);
    return;
  }
  Tensor buf = Tensor::empty(param.shape(), DType::F32, param.device());
  ops::sgd_update(param, grad, buf, h, true);
  set_state("momentum_buffer", name, buf);
}

}  // namespace nf::optim
