#include "layers/fusion.h"

#include <map>
#include <set>

#include "layers/activation.h"
#include "layers/conv_bn.h"
#include "layers/residual.h"

namespace nf {

namespace {

// Child i of seq (i < limit) as M, the class the role names, when it has that role.
template <class M>
std::shared_ptr<M> child_as(Sequential& seq, size_t i, size_t limit, FusionRole role) {
  return i < limit && seq.at(i)->fusion_role() == role ? std::static_pointer_cast<M>(seq.at(i)) : nullptr;
}

// Marks the steps among seq's children [0, limit).
void fuse_sequential(Sequential& seq, size_t limit) {
  for (size_t i = 0; i < limit;) {
    auto relu_at = [&](size_t j) { return child_as<ReLU>(seq, j, limit, FusionRole::Relu); };
    if (auto conv = child_as<Conv2d>(seq, i, limit, FusionRole::Conv)) {
      auto bn = child_as<BatchNorm>(seq, i + 1, limit, FusionRole::BatchNorm);
      auto relu = relu_at(bn ? i + 2 : i + 1);
      if (bn || relu) {
        const size_t span = 1 + (bn ? 1 : 0) + (relu ? 1 : 0);
        seq.set_step(i, {span, [conv, bn, relu](const Tensor& x) {
                           Tensor y = conv_bn(*conv, bn.get(), x, Tensor(), relu != nullptr);
                           if (relu) relu->run_forward_hook(y, y);
                           return y;
                         }});
        i += span;
        continue;
      }
    }
    if (auto bn = child_as<BatchNorm>(seq, i, limit, FusionRole::BatchNorm)) {
      if (auto relu = relu_at(i + 1)) {
        seq.set_step(i, {2, [bn, relu](const Tensor& x) {
                           Tensor y = bn->forward_fused(x, Tensor(), true);
                           relu->run_forward_hook(y, y);
                           return y;
                         }});
        i += 2;
        continue;
      }
    }
    if (auto res = child_as<Residual>(seq, i, limit, FusionRole::Residual)) {
      if (auto relu = relu_at(i + 1)) {
        seq.set_step(i, {2, [res, relu](const Tensor& x) {
                           Tensor y = res->forward_relu(x, true);
                           res->run_forward_hook(x, y);
                           relu->run_forward_hook(y, y);
                           return y;
                         }});
        i += 2;
        continue;
      }
    }
    ++i;
  }
}

}  // namespace

void fuse_model(Module& model) {
  std::vector<Module*> all{&model};
  for (auto& [name, m] : model.named_modules()) all.push_back(m.get());
  // Every Sequential with how many of its children may form steps: all, except in a
  // residual body whose last [Conv2d,] BatchNorm the Residual runs with the shortcut.
  // (A body whose children are registered inline, as in a BasicBlock, is not among the
  // model's modules: it is added here through its Residual.)
  std::map<Sequential*, size_t> limits;
  for (Module* m : all)
    if (auto* seq = with_role<Sequential>(m, FusionRole::Sequential)) limits[seq] = seq->size();
  for (Module* m : all) {
    auto* res = with_role<Residual>(m, FusionRole::Residual);
    if (!res) continue;
    limits[&res->shortcut()] = res->shortcut().size();
    limits[&res->body()] = res->body().size() - res->fuse_tail();
  }
  for (auto& [seq, limit] : limits) fuse_sequential(*seq, limit);
}

void fold_batch_norms(Module& model) {
  const Named<ModulePtr> owned = model.named_modules();  // keeps removed modules alive until the end
  std::vector<Module*> all{&model};
  for (auto& [name, m] : owned) all.push_back(m.get());
  std::set<Sequential*> bodies;  // folded by their Residual, which knows the branch point
  for (Module* m : all)
    if (auto* res = with_role<Residual>(m, FusionRole::Residual)) {
      res->fold_batch_norms();
      bodies.insert(&res->body());
    }
  for (Module* m : all) {
    auto* seq = with_role<Sequential>(m, FusionRole::Sequential);
    if (!seq || bodies.count(seq)) continue;
    for (size_t i = 0; i + 1 < seq->size(); ++i) {
      auto* conv = with_role<Conv2d>(seq->at(i).get(), FusionRole::Conv);
      auto* bn = with_role<BatchNorm>(seq->at(i + 1).get(), FusionRole::BatchNorm);
      if (conv && bn && bn->has_running_stats()) seq->replace(i, 2, folded_conv(*conv, *bn));
    }
  }
  fuse_model(model);
}

}  // namespace nf
