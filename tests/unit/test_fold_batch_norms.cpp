// fold_batch_norms (layers/fusion.h), what `normforge export` and model.folded rest on,
// per device (device_test.h): for ResNet-20 (both shortcuts) and PreAct-ResNet-18 with random BatchNorm statistics
// and affine parameters, the folded model's evaluation logits are within 1e-5 of the
// unfolded model's; the state_dict loses exactly the folded BatchNorms' tensors and gains
// their convolutions' biases; a model built with ModelSpec::folded has the same names and
// shapes (so a folded export loads into it); BatchNorms with nothing to fold into stay.
#include "device_test.h"
#include "framework/autograd/autograd.h"
#include "framework/core/random.h"
#include "layers/batch_norm.h"
#include "layers/fusion.h"
#include "models/registry.h"

using namespace nf;
using namespace nf::test;

namespace {

// Running statistics and affine parameters far from their initial values.
void randomize_batch_norms(Module& model, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, t] : model.state_dict()) {
    if (t.dtype() != DType::F32) continue;
    const bool var = name.size() > 11 && name.compare(name.size() - 11, 11, "running_var") == 0;
    const bool bn = var || name.find("running_mean") != std::string::npos ||
                    (name.find("bn") != std::string::npos && t.dim() == 1);
    if (!bn) continue;
    std::vector<float> v = t.to_vector();
    for (float& x : v) x = var ? gen.uniform(0.5f, 2.f) : gen.uniform(-0.5f, 0.5f);
    Tensor dst = t;
    dst.copy_(Tensor::from_vector(v, t.shape()));
  }
}

int64_t count_of(const Module& m) {
  int64_t n = 0;
  for (auto& [name, sub] : m.named_modules()) n += dynamic_cast<const BatchNorm*>(sub.get()) != nullptr;
  return n;
}

void check_fold(Device d, const std::string& name, const std::string& shortcut, int64_t expect_folded) {
  SCOPED_TRACE(name + " " + shortcut);
  ModelSpec spec;
  spec.name = name;
  spec.shortcut = shortcut;
  manual_seed(0);
  ModulePtr model = build_model(spec);
  model->to(d);
  randomize_batch_norms(*model, 7);
  model->eval();
  const Tensor x = to_device(d, randn({4, 3, 32, 32}, 3));
  const io::TensorDict before = model->state_dict();
  const int64_t bns = count_of(*model);
  // Reference: evaluation with autograd on (the parameters require gradients), where
  // conv_bn does not fold: each convolution, then its BatchNorm's own pass.
  const Tensor ref = (*model)(x).detach();
  NoGradGuard no_grad;
  fold_batch_norms(*model);
  const Tensor got = (*model)(x);
  expect_close(name + " folded logits", got, ref, 1e-5, 1e-5);
  EXPECT_EQ(bns - count_of(*model), expect_folded);

  const io::TensorDict after = model->state_dict();
  int64_t removed = 0, added = 0, folded_bn_elems = 0, bias_elems = 0;
  for (auto& [k, t] : before)
    if (!after.count(k)) {
      ++removed;
      folded_bn_elems += t.numel();
      EXPECT_TRUE(k.find("bn") != std::string::npos || k.find("downsample.1") != std::string::npos) << k;
    }
  for (auto& [k, t] : after)
    if (!before.count(k)) {
      ++added;
      bias_elems += t.numel();
      EXPECT_EQ(k.substr(k.size() - 5), ".bias") << k;
    }
  EXPECT_EQ(removed, 5 * expect_folded);  // weight, bias, running_mean, running_var, num_batches_tracked
  EXPECT_EQ(added, expect_folded);
  int64_t n_before = 0, n_after = 0;
  for (auto& [k, t] : before) n_before += t.numel();
  for (auto& [k, t] : after) n_after += t.numel();
  EXPECT_EQ(n_after, n_before - folded_bn_elems + bias_elems);

  spec.folded = true;
  ModulePtr built = build_model(spec);
  built->to(d);
  const io::TensorDict fresh = built->state_dict();
  ASSERT_EQ(fresh.size(), after.size());
  for (auto& [k, t] : after) {
    ASSERT_TRUE(fresh.count(k)) << k;
    EXPECT_EQ(fresh.at(k).shape(), t.shape()) << k;
  }
  built->load_state_dict(after);
  built->eval();
  expect_bitwise_equal(name + " model.folded rebuilt", (*built)(x), got);
}

}  // namespace

NF_DEVICE_TEST_SUITE(FoldBatchNorms);

TEST_P(FoldBatchNorms, ResNet20Projection) { check_fold(device(), "resnet20", "projection", 19 + 2); }
TEST_P(FoldBatchNorms, ResNet20Pad) { check_fold(device(), "resnet20", "pad", 19); }
// Pre-activation blocks: bn1 precedes the block's input (the shortcut reads it too) and
// the last bn follows a block, so only each block's bn2 (after conv1) folds: 8.
TEST_P(FoldBatchNorms, PreActResNet18) { check_fold(device(), "preact_resnet18", "projection", 8); }
