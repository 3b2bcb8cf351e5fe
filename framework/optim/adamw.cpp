// AdamW: option checks (PyTorch's ranges) and the per-parameter moments and step.
#include "framework/optim/adamw.h"

#include <cmath>

#include "framework/ops/optimizer_update.h"

namespace nf::optim {

namespace {

const AdamWOptions& checked(const AdamWOptions& o) {
  NF_CHECK(std::isfinite(o.eps) && o.eps >= 0, "AdamW: invalid epsilon value " + format_value(o.eps));
  NF_CHECK(o.beta1 >= 0 && o.beta1 < 1, "AdamW: invalid beta parameter at index 0: " + format_value(o.beta1));
  NF_CHECK(o.beta2 >= 0 && o.beta2 < 1, "AdamW: invalid beta parameter at index 1: " + format_value(o.beta2));
  return o;
}

}  // namespace

AdamW::AdamW(NamedTensors params, const AdamWOptions& o)
    : AdamW(std::vector<ParamGroup>{{std::move(params), o.lr, o.weight_decay}}, o) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o)
    : Optimizer("AdamW", std::move(groups), {{"exp_avg"}, {"exp_avg_sq"}, {"step", true}}), opt_(checked(o)) {}

void AdamW::update(const ParamGroup& group, const std::string& name, Tensor& param, const Tensor& grad) {
  ops::AdamWHyper h{group.lr, opt_.beta1, opt_.beta2, opt_.eps, group.weight_decay};
  Tensor* exp_avg = find_state("exp_avg", name);
  if (!exp_avg) {
    Tensor m = Tensor::zeros(param.shape(), DType::F32, param.device());
    Tensor v = Tensor::zeros(param.shape(), DType::F32, param.device());
    ops::adamw_update(param, grad, m, v, h, 1);
    set_state("exp_avg", name, m);
    set_state("exp_avg_sq", name, v);
    set_state("step", name, Tensor::from_vector(std::vector<int64_t>{1}, {}));
    return;
  }
  int64_t& step = find_state("step", name)->data<int64_t>()[0];
  ops::adamw_update(param, grad, *exp_avg, *find_state("exp_avg_sq", name), h, step + 1);
  ++step;
}

}  // namespace nf::optim
