// configure_runtime: the recipe's process-wide CPU and CUDA settings, in one place.
#include "tools/runtime.h"

#include "framework/backends/cpu/onednn.h"
#include "framework/ops/conv.h"
#include "tools/model_setup.h"

#ifdef NF_WITH_CUDA
#include "framework/backends/cuda/context.h"
#endif

namespace nf {

void configure_runtime(const Recipe& r) {
  cpu::set_num_threads(static_cast<int>(r.threads));
  ops::set_cpu_conv_algorithm(r.conv_algorithm);
  const Placement where = recipe_placement(r);
  if (where.device.is_cpu()) return;
#ifdef NF_WITH_CUDA
  cuda::Scope scope(where.device);  // TF32 also switches the math mode of this device's cuBLAS handle
  cuda::set_allow_tf32(r.precision == Precision::Tf32);
  cuda::set_cudnn_benchmark(r.cudnn_benchmark);
#endif
}

}  // namespace nf
