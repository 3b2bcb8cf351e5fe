// A whole CIFAR ResNet-20 built from our layers against the same network in PyTorch
// (tests/parity/ref_resnet.py), per device (device_test.h): three SGD steps (Nesterov,
// weight decay), each started from PyTorch's own state before it (weights, BN buffers,
// momentum), give the same logits, the same gradients and the same state after the step,
// element-wise. (Each step starts from PyTorch's state because along a free-running
// trajectory a ReLU input within float rounding of 0 can flip and move later gradients
// legitimately.) A train-mode forward without autograd (BN recalibration's path) gives the
// same logits and running statistics as step 0; the eval-mode logits match both without
// autograd (BN folded into the convolutions) and with it. On CUDA the batch goes in NCHW
// and channels-last (on the CPU the first convolution reorders either to channels-last).
// Also: eval-mode outputs of one image do not depend on the rest of the batch.
#include <cstring>

#include "device_test.h"
#include "framework/ops/loss.h"
#include "framework/optim/sgd.h"
#include "models/registry.h"

using namespace nf;
using namespace nf::test;

namespace {

io::TensorDict with_prefix(const io::TensorDict& ref, const std::string& prefix) {
  io::TensorDict out;
  for (auto& [k, v] : ref)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

ModulePtr resnet20(Device d) {
  ModelSpec spec;
  spec.name = "resnet20";
  ModulePtr model = build_model(spec);
  model->to(d);
  return model;
}

// |ours - PyTorch's| per element. CPU: rtol 1e-4 with atol 1e-5 (logits, gradients) or
// 1e-6 (state after a step), the direct convolutions being PyTorch's own oneDNN kernels.
// CUDA: cuDNN's convolution algorithms sum in other orders than PyTorch's CPU kernels and
// 20 layers compound it: rtol 1e-3 with atol 1e-6 + 1e-4 * max|PyTorch's| (the bound the
// CUDA-against-CPU model check of tests/gpu used).
struct Tolerance {
  Device d;
  void expect(const std::string& what, const Tensor& actual, const Tensor& want, double cpu_atol = 1e-5) const {
    if (d.is_cpu()) return expect_close(what, actual, want, 1e-4, cpu_atol);
    float max_ref = 0;
    for (float v : want.to_vector()) max_ref = std::max(max_ref, std::fabs(v));
    expect_close(what, actual, want, 1e-3, 1e-6 + 1e-4 * max_ref);
  }
};

void three_sgd_steps(Device d, MemoryFormat f) {
  const std::string tag = f == MemoryFormat::ChannelsLast ? " NHWC" : "";
  const Tolerance tol{d};
  test::ConvAlgorithmScope direct(ops::CpuConvAlgorithm::Direct);  // PyTorch's kernels (CPU)
  io::TensorDict ref = load_ref("resnet20");
  auto input = [&](const std::string& key) { return to_device(d, ref.at(key).contiguous(f)); };
  ModulePtr model = resnet20(d);
  optim::SGD opt(model->named_parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  model->train();
  {  // BN recalibration's path: train mode without autograd, from the initial state
    ModulePtr other = resnet20(d);
    other->load_state_dict(with_prefix(ref, "init."), true);
    other->train();
    NoGradGuard ng;
    tol.expect("no-grad train-mode logits" + tag, (*other)(input("x0")), ref.at("logits0"));
    for (auto& [name, t] : other->state_dict())
      if (name.find("running_") != std::string::npos)
        tol.expect("no-grad train-mode " + name + tag, t, ref.at("after0." + name), 1e-6);
  }
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
    Tensor logits = (*model)(input("x" + s));
    ops::cross_entropy(logits, to_device(d, ref.at("y" + s))).backward();
    tol.expect("logits step " + s + tag, logits, ref.at("logits" + s));
    for (auto& [name, p] : model->named_parameters())
      tol.expect("grad" + s + " " + name + tag, p.grad(), ref.at("grad" + s + "." + name));
    opt.step();
    for (auto& [name, t] : model->state_dict()) {
      const Tensor& want = ref.at("after" + s + "." + name);
      EXPECT_EQ(t.device(), d) << name;
      if (t.dtype() == DType::I64)
        EXPECT_EQ(t.item(), want.item()) << name;
      else
        tol.expect("after step " + s + " " + name + tag, t, want, 1e-6);
    }
  }
  model->eval();
  tol.expect("eval logits with autograd" + tag, (*model)(input("x_eval")), ref.at("eval_logits"));
  NoGradGuard ng;
  tol.expect("eval logits" + tag, (*model)(input("x_eval")), ref.at("eval_logits"));
}

}  // namespace

NF_DEVICE_TEST_SUITE(ResNetParity);
NF_DEVICE_TEST_SUITE(ResNetEval);

TEST_P(ResNetParity, ThreeSgdStepsMatchPyTorch) {
  three_sgd_steps(device(), MemoryFormat::Contiguous);
  if (on_cuda()) three_sgd_steps(device(), MemoryFormat::ChannelsLast);
}

// Bitwise on the CPU, under either convolution algorithm. On CUDA, cuDNN may choose
// another convolution algorithm for a batch of 6 than for one image: within rounding
// there (rtol 1e-4, atol 1e-5).
TEST_P(ResNetEval, EachImageIsIndependentOfTheBatch) {
  std::vector<ops::CpuConvAlgorithm> algorithms{ops::CpuConvAlgorithm::Direct};
  if (!on_cuda()) algorithms.push_back(ops::CpuConvAlgorithm::Winograd);
  for (auto algorithm : algorithms) {
    test::ConvAlgorithmScope scope(algorithm);
    ModelSpec spec;
    spec.name = "resnet20";
    ModulePtr model = build_model(spec);
    model->to(device());
    model->train();
    {  // give the BN layers non-trivial running statistics
      NoGradGuard ng;
      for (int i = 0; i < 3; ++i) (*model)(dev(randn({8, 3, 32, 32}, 100 + i)));
    }
    model->eval();
    NoGradGuard ng;
    Tensor batch = randn({6, 3, 32, 32}, 7);
    const std::vector<float> all = (*model)(dev(batch)).to_vector();
    std::vector<float> xb = batch.to_vector();
    const int64_t per = 3 * 32 * 32;
    const std::string name = algorithm == ops::CpuConvAlgorithm::Direct ? "direct" : "winograd";
    for (int64_t i = 0; i < 6; ++i) {
      Tensor one =
          Tensor::from_vector(std::vector<float>(xb.begin() + i * per, xb.begin() + (i + 1) * per), {1, 3, 32, 32});
      std::vector<float> alone = (*model)(dev(one)).to_vector();
      if (on_cuda()) {
        expect_close("image " + std::to_string(i), Tensor::from_vector(alone, {1, 10}),
                     Tensor::from_vector(std::vector<float>(all.begin() + i * 10, all.begin() + i * 10 + 10), {1, 10}),
                     1e-4, 1e-5);
        continue;
      }
      EXPECT_EQ(0, std::memcmp(alone.data(), all.data() + i * 10, 10 * sizeof(float))) << name << " image " << i;
    }
  }
}
