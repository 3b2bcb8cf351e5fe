// Every entry point of the CUDA backend for a build without it (NF_WITH_CUDA=OFF, or no
// nvcc/cuDNN found at configure time); CMakeLists.txt compiles this file instead of the
// rest of framework/backends/cuda. There is no GPU: cuda_available() is false, the cache
// and setting queries answer 0/false, freeing is a no-op (nothing was allocated), and
// everything else throws nf::Error("<entry point>: normforge was built without CUDA").
#include <string>

#include "framework/backends/cuda/batch_norm.h"
#include "framework/backends/cuda/conv.h"
#include "framework/backends/cuda/device.h"
#include "framework/backends/cuda/dropout.h"
#include "framework/backends/cuda/eltwise.h"
#include "framework/backends/cuda/group_norm.h"
#include "framework/backends/cuda/linear.h"
#include "framework/backends/cuda/loss.h"
#include "framework/backends/cuda/metrics.h"
#include "framework/backends/cuda/nccl.h"
#include "framework/backends/cuda/optimizer_update.h"
#include "framework/backends/cuda/pool.h"
#include "framework/backends/cuda/reduce.h"
#include "framework/backends/cuda/shortcut.h"
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf {

namespace {
[[noreturn]] void unavailable(const char* entry) {
  throw Error(std::string(entry) + ": normforge was built without CUDA");
}
}  // namespace

// The storage.h hooks (memory, copies, fill).
bool cuda_available() { return false; }
void* cuda_alloc(size_t, int) { unavailable("cuda_alloc"); }
void cuda_free(void*, size_t, int) {}
size_t cuda_cached_bytes() { return 0; }
void cuda_copy(void*, const void*, size_t, bool, bool, int) { unavailable("cuda_copy"); }
void cuda_synchronize(int) { unavailable("cuda_synchronize"); }
void* cuda_host_alloc(size_t) { unavailable("cuda_host_alloc"); }
void cuda_host_free(void*) {}
void cuda_copy_strided(const void*, void*, size_t, int, const int64_t*, const int64_t*, const int64_t*, int) {
  unavailable("cuda_copy_strided");
}
void cuda_fill(void*, size_t, uint64_t, int64_t, int) { unavailable("cuda_fill"); }

namespace cuda {

// device.h
Scope::Scope(Device) { unavailable("cuda::Scope"); }
Scope::~Scope() = default;
void set_allow_tf32(bool) { unavailable("cuda::set_allow_tf32"); }
bool allow_tf32() { return false; }
void set_cudnn_benchmark(bool) { unavailable("cuda::set_cudnn_benchmark"); }
bool cudnn_benchmark() { return false; }

// nccl.h
int device_count() { return 0; }
NcclId nccl_unique_id() { unavailable("cuda::nccl_unique_id"); }
void nccl_init(const NcclId&, int, int, Device) { unavailable("cuda::nccl_init"); }
bool nccl_ready() { return false; }
void nccl_allreduce_sum(Tensor&) { unavailable("cuda::nccl_allreduce_sum"); }
void nccl_broadcast(Tensor&, int) { unavailable("cuda::nccl_broadcast"); }

// batch_norm.h
void batch_norm_moments(const Tensor&, std::vector<double>&, std::vector<double>&) {
  unavailable("cuda::batch_norm_moments");
}
void batch_norm_set_stats(const std::vector<double>&, const std::vector<double>&, int64_t, Tensor&, Tensor&, Tensor&,
                          Tensor&, double) {
  unavailable("cuda::batch_norm_set_stats");
}
BatchNormGradSums batch_norm_grad_sums(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  unavailable("cuda::batch_norm_grad_sums");
}
void batch_norm_grad_apply(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           double, bool, const BatchNormGradSums&, const BatchNormGradSums&, double, Tensor&, Tensor&,
                           Tensor&) {
  unavailable("cuda::batch_norm_grad_apply");
}
void batch_norm_stats(const Tensor&, Tensor&, Tensor&, Tensor&, Tensor&, double) {
  unavailable("cuda::batch_norm_stats");
}
void batch_norm_apply(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double,
                      const Tensor&, bool, Tensor&) {
  unavailable("cuda::batch_norm_apply");
}
void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         double, bool, Tensor&, Tensor&, Tensor&, Tensor&) {
  unavailable("cuda::batch_norm_backward");
}
void increment_(Tensor&) { unavailable("cuda::increment_"); }
void fold_batch_norm(Device, const float*, const float*, const float*, const float*, const float*, const float*,
                     double, int64_t, int64_t, float*, float*) {
  unavailable("cuda::fold_batch_norm");
}

// conv.h
void conv_forward(const ConvShape&, const Tensor&, const Tensor&, const Tensor&) { unavailable("cuda::conv_forward"); }
void conv_backward_data(const ConvShape&, const Tensor&, const Tensor&, const Tensor&) {
  unavailable("cuda::conv_backward_data");
}
void conv_backward_filter(const ConvShape&, const Tensor&, const Tensor&, const Tensor&) {
  unavailable("cuda::conv_backward_filter");
}
void conv_backward_bias(const ConvShape&, const Tensor&, const Tensor&) { unavailable("cuda::conv_backward_bias"); }
void conv_epilogue(const Tensor&, MemoryFormat, const Tensor&, const Tensor&, bool) {
  unavailable("cuda::conv_epilogue");
}

// pool.h
void pool_forward(PoolMode, const PoolWindow&, MemoryFormat, const Tensor&, const Tensor&) {
  unavailable("cuda::pool_forward");
}
void pool_backward(PoolMode, const PoolWindow&, MemoryFormat, const Tensor&, const Tensor&, const Tensor&,
                   const Tensor&) {
  unavailable("cuda::pool_backward");
}
void adaptive_avg_pool2d_forward(const Tensor&, const Tensor&) { unavailable("cuda::adaptive_avg_pool2d_forward"); }
void adaptive_avg_pool2d_backward(const Tensor&, const Tensor&) { unavailable("cuda::adaptive_avg_pool2d_backward"); }

// eltwise.h
void eltwise_add(const float*, const float*, float*, int64_t) { unavailable("cuda::eltwise_add"); }
void eltwise_relu(const float*, float*, int64_t) { unavailable("cuda::eltwise_relu"); }
void eltwise_relu_backward(const float*, const float*, float*, int64_t) { unavailable("cuda::eltwise_relu_backward"); }
void eltwise_scale(const float*, float, float*, int64_t) { unavailable("cuda::eltwise_scale"); }

// group_norm.h
void group_norm_forward(const Tensor&, int64_t, const Tensor&, const Tensor&, double, Tensor&, Tensor&, Tensor&,
                        Tensor&) {
  unavailable("cuda::group_norm_forward");
}
void group_norm_backward(const Tensor&, const Tensor&, int64_t, const Tensor&, const Tensor&, const Tensor&, Tensor&,
                         Tensor&, Tensor&) {
  unavailable("cuda::group_norm_backward");
}

// linear.h
void linear_forward(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t) {
  unavailable("cuda::linear_forward");
}
void linear_backward_data(const float*, const float*, float*, int64_t, int64_t, int64_t) {
  unavailable("cuda::linear_backward_data");
}
void linear_backward_weights(const float*, const float*, float*, int64_t, int64_t, int64_t) {
  unavailable("cuda::linear_backward_weights");
}

// loss.h
void cross_entropy_forward(const float*, const int64_t*, int64_t, int64_t, double, double*, double*, float*) {
  unavailable("cuda::cross_entropy_forward");
}
void cross_entropy_backward(const float*, const int64_t*, const double*, const float*, int64_t, int64_t, double,
                            float*) {
  unavailable("cuda::cross_entropy_backward");
}

// dropout.h, metrics.h, reduce.h
void dropout_apply(const float*, float*, int64_t, uint64_t, double, float) { unavailable("cuda::dropout_apply"); }
void topk_correct_count(const float*, const int64_t*, int64_t, int64_t, int64_t, int64_t*) {
  unavailable("cuda::topk_correct_count");
}
void sum_except_dim1(const float*, int64_t, int64_t, int64_t, float*, Device) { unavailable("cuda::sum_except_dim1"); }

// optimizer_update.h
void sgd_multi(const std::vector<SgdTensor>&, const SgdConsts&) { unavailable("cuda::sgd_multi"); }
void adamw_multi(const std::vector<AdamWTensor>&, const AdamWConsts&) { unavailable("cuda::adamw_multi"); }

// shortcut.h
void shortcut_pad_forward(const float*, const Nchw&, float*, const Nchw&, int64_t, bool) {
  unavailable("cuda::shortcut_pad_forward");
}
void shortcut_pad_backward(const float*, const Nchw&, float*, const Nchw&, int64_t, bool) {
  unavailable("cuda::shortcut_pad_backward");
}

}  // namespace cuda

}  // namespace nf
