#include "layers/fusion.h"

#include <map>
#include <set>

#include "layers/activation.h"
#include "layers/conv_bn.h"
#include "layers/residual.h"

namespace nf {

namespace {

template <class M>
std::shared_ptr<M> child_as(Sequential& seq, size_t i, size_t limit) {
  return i < limit ? std::dynamic_pointer_cast<M>(seq.at(i)) : nullptr;
}

// Marks the steps among seq's children [0, limit).
void fuse_sequential(Sequential& seq, size_t limit) {
  for (size_t i = 0; i < limit;) {
    auto relu_at = [&](size_t j) { return child_as<ReLU>(seq, j, limit); };
    if (auto conv = child_as<Conv2d>(seq, i, limit)) {
      auto bn = child_as<BatchNorm2d>(seq, i + 1, limit);
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
    if (auto bn = child_as<BatchNorm>(seq, i, limit)) {
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
    if (auto res = child_as<Residual>(seq, i, limit)) {
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
    if (auto* seq = dynamic_cast<Sequential*>(m)) limits[seq] = seq->size();
  for (Module* m : all) {
    auto* res = dynamic_cast<Residual*>(m);
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
    if (auto* res = dynamic_cast<Residual*>(m)) {
      res->fold_batch_norms();
      bodies.insert(&res->body());
    }
  for (Module* m : all) {
    auto* seq = dynamic_cast<Sequential*>(m);
    if (!seq || bodies.count(seq)) continue;
    for (size_t i = 0; i + 1 < seq->size(); ++i) {
      auto* conv = dynamic_cast<Conv2d*>(seq->at(i).get());
      auto* bn = dynamic_cast<BatchNorm2d*>(seq->at(i + 1).get());
      if (conv && bn && bn->has_running_stats()) seq->replace(i, 2, folded_conv(*conv, *bn));
    }
  }
  fuse_model(model);
}

}  // namespace nf
