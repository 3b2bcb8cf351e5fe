// configure_runtime: the recipe's process-wide CPU and CUDA settings and its placement,
// in one place.
#include "tools/train/runtime.h"

#include "framework/backends/cpu/onednn.h"
#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/nccl.h"
#include "framework/core/random.h"
#include "framework/distributed/process_group.h"
#include "framework/ops/conv.h"

namespace nf {

namespace {

Placement recipe_placement(const Recipe& r) {
  Placement p{Device::parse(r.device), false};
  if (p.device.is_cpu()) return p;
  NF_CHECK(cuda_available(), r.file + ": device: " + r.device + " but no CUDA GPU was found on this machine");
  p.channels_last = r.channels_last;
  const dist::ProcessGroup& g = dist::world();
  if (g.distributed())  // each rank its own GPU, round-robin over this machine's
    p.device = Device::cuda(g.local_rank() % cuda::device_count());
  return p;
}

}  // namespace

Placement configure_runtime(const Recipe& r) {
  manual_seed(r.seed);
  cpu::set_num_threads(static_cast<int>(r.threads));
  ops::set_cpu_conv_algorithm(r.conv_algorithm);
  const Placement where = recipe_placement(r);
  if (where.device.is_cpu()) return where;
  cuda::Scope scope(where.device);  // TF32 also switches the math mode of this device's cuBLAS handle
  cuda::set_allow_tf32(r.precision == Precision::Tf32);
  cuda::set_cudnn_benchmark(r.cudnn_benchmark);
  return where;
}

Tensor place(const Tensor& t, const Placement& p) {
  Tensor d = t.to(p.device);
  return p.channels_last && d.dim() == 4 ? d.contiguous(MemoryFormat::ChannelsLast) : d;
}

}  // namespace nf
