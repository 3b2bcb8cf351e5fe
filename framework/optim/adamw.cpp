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

void AdamW::update(const ParamGroup& group, const std::vector<GradParam>& params) {
  ops::AdamWHyper h{group.lr, opt_.beta1, opt_.beta2, opt_.eps, group.weight_decay};
  std::vector<ops::AdamWSlot> slots;
  for (const GradParam& gp : params) {
    if (Tensor* exp_avg = find_state("exp_avg", gp.name)) {
      const int64_t step = find_state("step", gp.name)->data<int64_t>()[0];
      slots.push_back({gp.param, gp.grad, *exp_avg, *find_state("exp_avg_sq", gp.name), step + 1});
    } else {  // first step: zero moments
      slots.push_back({gp.param, gp.grad, Tensor::zeros(gp.param.shape(), DType::F32, gp.param.device()),
                       Tensor::zeros(gp.param.shape(), DType::F32, gp.param.device()), 1});
    }
  }
  ops::adamw_update_multi(slots, h);
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string& name = params[i].name;
    if (Tensor* step = find_state("step", name)) {
      ++step->data<int64_t>()[0];
      continue;
    }
    set_state("exp_avg", name, slots[i].exp_avg);
    set_state("exp_avg_sq", name, slots[i].exp_avg_sq);
    set_state("step", name, Tensor::from_vector(std::vector<int64_t>{1}, {}));
  }
}

}  // namespace nf::optim
