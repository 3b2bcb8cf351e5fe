// CUDA Tensor basics (to(Device) round trips keep values and memory format,
// contiguous(ChannelsLast) and copy_ between formats equal the CPU's bytes, fill_/
// zeros/full for F32 and I64, clone), the optimizers on CUDA against the CPU (SGD with
// momentum, dampening, Nesterov, weight decay; AdamW: 3 steps, bitwise equal params
// and state), and the caching allocator: steady-state training steps of a small model
// take no new device memory.
#include "framework/ops/loss.h"
#include "framework/optim/adamw.h"
#include "framework/optim/sgd.h"
#include "gpu_test_util.h"
#include "models/registry.h"

using namespace nf;
using namespace nf::gpu_test;

namespace {

// The raw bytes of a dense tensor in its own memory order, on the host.
std::vector<uint8_t> bytes(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  const uint8_t* p = static_cast<const uint8_t*>(h.raw_data());
  return std::vector<uint8_t>(p, p + h.nbytes());
}

}  // namespace

TEST(GpuTensor, RoundTripKeepsValuesAndMemoryFormat) {
  NF_REQUIRE_GPU();
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    Tensor h = image({3, 5, 7, 6}, 1, f);
    Tensor d = h.to(cuda());
    ASSERT_TRUE(d.device().is_cuda());
    EXPECT_EQ(d.memory_format(), f) << fmt_name(f);
    Tensor back = d.to(Device::cpu());
    EXPECT_EQ(back.memory_format(), f) << fmt_name(f);
    EXPECT_EQ(bytes(back), bytes(h)) << "round trip changed the bytes (" << fmt_name(f) << ")";
    expect_bitwise(std::string("round trip ") + fmt_name(f), back, h);
  }
  const Tensor i64 = labels(1001, 1000, 2);
  EXPECT_EQ(i64.to(cuda()).to_int_vector(), i64.to_int_vector());
  EXPECT_EQ(Tensor::full({}, 3.25, DType::F32, cuda()).item(), 3.25);
}

TEST(GpuTensor, ContiguousAndCopyBetweenFormatsMatchCpu) {
  NF_REQUIRE_GPU();
  for (const Shape& s : {Shape{3, 5, 7, 6}, Shape{1, 64, 1, 1}, Shape{2, 3, 33, 1}, Shape{3, 5, 4}}) {
    const std::string tag = " " + shape_str(s);
    Tensor h = randn(s, 3);
    Tensor cl_cpu = h.contiguous(MemoryFormat::ChannelsLast);
    Tensor cl_gpu = h.to(cuda()).contiguous(MemoryFormat::ChannelsLast);
    EXPECT_TRUE(cl_gpu.device().is_cuda());
    EXPECT_TRUE(cl_gpu.is_contiguous(MemoryFormat::ChannelsLast)) << tag;
    EXPECT_EQ(bytes(cl_gpu), bytes(cl_cpu)) << "contiguous(ChannelsLast)" << tag;
    Tensor back = cl_gpu.contiguous();
    EXPECT_TRUE(back.is_contiguous()) << tag;
    EXPECT_EQ(bytes(back), bytes(h)) << "ChannelsLast -> Contiguous" << tag;
    // copy_ into an existing CUDA tensor of the other format, from CUDA and from the host.
    Tensor dst = Tensor::empty(s, DType::F32, cuda(), MemoryFormat::ChannelsLast);
    dst.copy_(h.to(cuda()));
    EXPECT_EQ(bytes(dst), bytes(cl_cpu)) << "copy_ NCHW cuda -> NHWC cuda" << tag;
    Tensor dst2 = Tensor::empty(s, DType::F32, cuda());
    dst2.copy_(cl_cpu);
    EXPECT_EQ(bytes(dst2), bytes(h)) << "copy_ NHWC cpu -> NCHW cuda" << tag;
  }
}

TEST(GpuTensor, FillZerosFullClone) {
  NF_REQUIRE_GPU();
  EXPECT_EQ(Tensor::zeros({3, 5, 7}, DType::F32, cuda()).to_vector(), std::vector<float>(105, 0.f));
  EXPECT_EQ(Tensor::full({1001}, -2.5, DType::F32, cuda()).to_vector(), std::vector<float>(1001, -2.5f));
  EXPECT_EQ(Tensor::full({5}, 7, DType::I64, cuda()).to_int_vector(), std::vector<int64_t>(5, 7));
  EXPECT_EQ(Tensor::zeros({}, DType::I64, cuda()).to_int_vector(), std::vector<int64_t>{0});
  Tensor t = Tensor::empty({3, 5, 7, 6}, DType::F32, cuda(), MemoryFormat::ChannelsLast);
  t.fill_(0.1);
  EXPECT_EQ(t.to_vector(), std::vector<float>(t.numel(), 0.1f));
  EXPECT_TRUE(t.is_contiguous(MemoryFormat::ChannelsLast));

  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    Tensor d = image({3, 5, 7, 6}, 4, f).to(cuda());
    Tensor c = d.clone();
    EXPECT_TRUE(c.device().is_cuda());
    EXPECT_NE(c.storage().get(), d.storage().get()) << "clone shares storage";
    EXPECT_EQ(c.memory_format(), f);
    EXPECT_EQ(bytes(c), bytes(d)) << "clone " << fmt_name(f);
    d.fill_(0);  // the clone is independent
    EXPECT_NE(bytes(c), bytes(d));
  }
}

namespace {

const Shape kParamShapes[] = {{7, 5}, {13}, {4, 3, 3, 3}, {1}};

// 3 optimizer steps over the same parameters and gradients on `device`; returns the
// final parameters and the optimizer's state (both as host tensors).
template <class MakeOpt>
std::pair<std::vector<Tensor>, io::TensorDict> three_steps(Device device, MakeOpt make_opt) {
  optim::NamedTensors params;
  for (size_t i = 0; i < std::size(kParamShapes); ++i) {
    Tensor p = randn(kParamShapes[i], 100 + i).to(device);
    p.set_requires_grad(true);
    params.emplace_back("p" + std::to_string(i), p);
  }
  auto opt = make_opt(params);
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < params.size(); ++i)
      params[i].second.set_grad(randn(kParamShapes[i], 1000 + 10 * step + i, 0.5f).to(device));
    opt->step();
  }
  std::vector<Tensor> out;
  for (auto& [n, p] : params) {
    EXPECT_EQ(p.device(), device) << n << " moved off its device";
    out.push_back(p.to(Device::cpu()));
  }
  return {out, opt->state_dict()};
}

template <class MakeOpt>
void check_optimizer(const std::string& what, MakeOpt make_opt) {
  auto [cpu_params, cpu_state] = three_steps(Device::cpu(), make_opt);
  auto [gpu_params, gpu_state] = three_steps(cuda(), make_opt);
  for (size_t i = 0; i < cpu_params.size(); ++i)
    expect_bitwise(what + " param p" + std::to_string(i), gpu_params[i], cpu_params[i]);
  ASSERT_EQ(gpu_state.size(), cpu_state.size()) << what;
  for (auto& [name, t] : cpu_state) {
    ASSERT_TRUE(gpu_state.count(name)) << what << ": CUDA state lacks " << name;
    if (t.dtype() == DType::I64)
      EXPECT_EQ(gpu_state.at(name).to_int_vector(), t.to_int_vector()) << what << " " << name;
    else
      expect_bitwise(what + " state " + name, gpu_state.at(name), t);
  }
}

}  // namespace

TEST(GpuOptim, SgdThreeStepsBitwiseEqualToCpu) {
  NF_REQUIRE_GPU();
  struct Case {
    const char* name;
    optim::SgdOptions o;
  };
  const Case cases[] = {
      {"sgd plain", {.lr = 0.1}},
      {"sgd momentum nesterov wd", {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true}},
      {"sgd momentum dampening wd", {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-4}},
  };
  for (const Case& c : cases)
    check_optimizer(c.name, [&](const optim::NamedTensors& p) { return std::make_unique<optim::SGD>(p, c.o); });
}

TEST(GpuOptim, AdamWThreeStepsBitwiseEqualToCpu) {
  NF_REQUIRE_GPU();
  for (double wd : {0.0, 1e-2}) {
    optim::AdamWOptions o{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = wd};
    check_optimizer("adamw wd=" + std::to_string(wd),
                    [&](const optim::NamedTensors& p) { return std::make_unique<optim::AdamW>(p, o); });
  }
}

TEST(GpuAllocator, SteadyStateTrainingStepsTakeNoNewMemory) {
  NF_REQUIRE_GPU();
  ModelSpec spec;
  spec.name = "resnet8";
  spec.shortcut = "pad";
  ModulePtr model = build_model(spec);
  model->to(cuda());
  model->train();
  optim::SGD opt(model->named_parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  const Tensor x = randn({16, 3, 32, 32}, 5).contiguous(MemoryFormat::ChannelsLast).to(cuda());
  const Tensor y = labels(16, 10, 6).to(cuda());
  std::vector<size_t> cached;
  for (int step = 0; step < 5; ++step) {
    opt.zero_grad();
    Tensor loss = ops::cross_entropy((*model)(x), y);
    loss.backward();
    opt.step();
    ASSERT_TRUE(std::isfinite(loss.item()));
    cached.push_back(cuda_cached_bytes());
    std::printf("[allocator] after step %d: %zu bytes cached (free blocks)\n", step + 1, cached.back());
  }
  // From step 2 on every step reuses the blocks the previous one freed: a new
  // cudaMalloc would show as extra cached bytes once freed at the end of the step.
  EXPECT_EQ(cached[2], cached[1]) << "step 3 took new device memory";
  EXPECT_EQ(cached[4], cached[2]) << "steps 4-5 took new device memory";
}
