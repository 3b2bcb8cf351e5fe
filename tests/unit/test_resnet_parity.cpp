// A whole CIFAR ResNet-20 built from our layers against the same network in PyTorch
// (tests/parity/ref_resnet.py): three SGD steps (Nesterov, weight decay), each started
// from PyTorch's own state before it (weights, BN buffers, momentum), give the same
// logits, the same gradients and the same state after the step, element-wise. (Each
// step starts from PyTorch's state because along a free-running trajectory a ReLU input
// within float rounding of 0 can flip and move later gradients legitimately.)
// Also: eval-mode outputs of one image do not depend on the rest of the batch.
#include "framework/ops/loss.h"
#include "framework/optim/sgd.h"
#include "models/registry.h"
#include "test_util.h"

using namespace nf;
using namespace nf::test;

namespace {

io::TensorDict with_prefix(const io::TensorDict& ref, const std::string& prefix) {
  io::TensorDict out;
  for (auto& [k, v] : ref)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

}  // namespace

TEST(ResNetParity, ThreeSgdStepsMatchPyTorch) {
  test::ConvAlgorithmScope direct(ops::CpuConvAlgorithm::Direct);  // PyTorch's kernels
  io::TensorDict ref = load_ref("resnet20");
  ModelSpec spec;
  spec.name = "resnet20";
  ModulePtr model = build_model(spec);
  optim::SGD opt(model->named_parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  model->train();
  for (int step = 0; step < 3; ++step) {
    const std::string s = std::to_string(step);
    if (step == 0) {
      model->load_state_dict(with_prefix(ref, "init."), true);
    } else {  // PyTorch's state after the previous step
      io::TensorDict before = with_prefix(ref, "after" + std::to_string(step - 1) + ".");
      io::TensorDict opt_state{{"step", Tensor::scalar(step, DType::I64)}};
      for (auto it = before.begin(); it != before.end();)
        if (it->first.rfind("momentum_buffer.", 0) == 0) {
          opt_state[it->first] = it->second;
          it = before.erase(it);
        } else {
          ++it;
        }
      model->load_state_dict(before, true);
      opt.load_state_dict(opt_state);
    }
    opt.zero_grad();
    Tensor logits = (*model)(ref.at("x" + s));
    ops::cross_entropy(logits, ref.at("y" + s)).backward();
    expect_close("logits step " + s, logits, ref.at("logits" + s), 1e-4, 1e-5);
    for (auto& [name, p] : model->named_parameters())
      expect_close("grad" + s + " " + name, p.grad(), ref.at("grad" + s + "." + name), 1e-4, 1e-5);
    opt.step();
    for (auto& [name, t] : model->state_dict()) {
      const Tensor& want = ref.at("after" + s + "." + name);
      if (t.dtype() == DType::I64)
        EXPECT_EQ(t.item(), want.item()) << name;
      else
        expect_close("after step " + s + " " + name, t, want, 1e-4, 1e-6);
    }
  }
  model->eval();
  NoGradGuard ng;
  expect_close("eval logits", (*model)(ref.at("x_eval")), ref.at("eval_logits"), 1e-4, 1e-5);
}

// Bitwise, under either CPU convolution algorithm.
TEST(ResNetEval, EachImageIsIndependentOfTheBatch) {
  for (auto algorithm : {ops::CpuConvAlgorithm::Direct, ops::CpuConvAlgorithm::Winograd}) {
    test::ConvAlgorithmScope scope(algorithm);
    ModelSpec spec;
    spec.name = "resnet20";
    ModulePtr model = build_model(spec);
    model->train();
    {  // give the BN layers non-trivial running statistics
      NoGradGuard ng;
      for (int i = 0; i < 3; ++i) (*model)(randn({8, 3, 32, 32}, 100 + i));
    }
    model->eval();
    NoGradGuard ng;
    Tensor batch = randn({6, 3, 32, 32}, 7);
    const std::vector<float> all = (*model)(batch).to_vector();
    std::vector<float> xb = batch.to_vector();
    const int64_t per = 3 * 32 * 32;
    for (int64_t i = 0; i < 6; ++i) {
      Tensor one = Tensor::from_vector(std::vector<float>(xb.begin() + i * per, xb.begin() + (i + 1) * per), {1, 3, 32, 32});
      std::vector<float> alone = (*model)(one).to_vector();
      EXPECT_EQ(0, std::memcmp(alone.data(), all.data() + i * 10, 10 * sizeof(float)))
          << (algorithm == ops::CpuConvAlgorithm::Direct ? "direct" : "winograd") << " image " << i;
    }
  }
}
