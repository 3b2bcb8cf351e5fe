// What only a GPU has in memory: host<->device transfers (to(Device) round trips keep
// the values, the bytes and the memory format, F32 and I64; copy_ across devices between
// formats; a device-to-device copy), the CUDA caching allocator (steady-state training
// steps of a small model take no new device memory), and, where no GPU is found, that
// asking for CUDA memory is a clear error.
#include "framework/ops/loss.h"
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

TEST(GpuTensor, NoGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(Tensor::empty({2}, DType::F32, Device::cuda()), Error);
}

TEST_F(GpuTest, RoundTripKeepsValuesBytesAndMemoryFormat) {
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    Tensor h = image({3, 5, 7, 6}, 1, f);
    Tensor d = h.to(cuda());
    ASSERT_TRUE(d.device().is_cuda());
    EXPECT_EQ(d.memory_format(), f) << fmt_name(f);
    Tensor back = d.to(Device::cpu());
    EXPECT_EQ(back.memory_format(), f) << fmt_name(f);
    EXPECT_EQ(bytes(back), bytes(h)) << "round trip changed the bytes (" << fmt_name(f) << ")";
    expect_bitwise(std::string("round trip ") + fmt_name(f), back, h);
    expect_bitwise(std::string("device to device copy ") + fmt_name(f), d.clone(), h);
  }
  const Tensor odd = randn({3, 5, 7}, 2);  // a size that is no multiple of any vector width
  expect_bitwise("round trip [3, 5, 7]", odd.to(cuda()).to(Device::cpu()), odd);
  const Tensor i64 = labels(1001, 1000, 2);
  EXPECT_EQ(i64.to(cuda()).to_int_vector(), i64.to_int_vector());
}

// copy_ into a tensor of another device and another format converts on the way.
TEST_F(GpuTest, CopyAcrossDevicesBetweenFormats) {
  for (const Shape& s : {Shape{3, 5, 7, 6}, Shape{1, 64, 1, 1}, Shape{2, 3, 33, 1}, Shape{3, 5, 4}}) {
    const std::string tag = " " + shape_str(s);
    const Tensor h = randn(s, 3), cl = h.contiguous(MemoryFormat::ChannelsLast);
    Tensor to_nchw = Tensor::empty(s, DType::F32, cuda());
    to_nchw.copy_(cl);
    EXPECT_EQ(bytes(to_nchw), bytes(h)) << "copy_ NHWC cpu -> NCHW cuda" << tag;
    Tensor to_nhwc = Tensor::empty(s, DType::F32, cuda(), MemoryFormat::ChannelsLast);
    to_nhwc.copy_(h);
    EXPECT_EQ(bytes(to_nhwc), bytes(cl)) << "copy_ NCHW cpu -> NHWC cuda" << tag;
    Tensor back = Tensor::empty(s, DType::F32, Device::cpu());
    back.copy_(to_nhwc);
    EXPECT_EQ(bytes(back), bytes(h)) << "copy_ NHWC cuda -> NCHW cpu" << tag;
  }
}

TEST_F(GpuTest, AllocatorSteadyStateTrainingStepsTakeNoNewMemory) {
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
