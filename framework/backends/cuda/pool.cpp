// cuDNN pooling (pool.h): a cache of x / y tensor descriptors and the pooling
// descriptor per (mode, x shape, format, window), and the forward and backward calls on
// cuda::stream() through cuda::cudnn().
#include "framework/backends/cuda/pool.h"

#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "framework/backends/cuda/cudnn_descriptor.h"

namespace nf::cuda {

namespace {

using PoolingDescriptor =
    Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;

struct Plan {
  Shape y;  // the output shape cuDNN computed
  TensorDescriptor x_desc, y_desc;
  PoolingDescriptor pool;
};

int window_int(int64_t v) {
  NF_CHECK(v >= 0 && v <= INT_MAX, "pooling (CUDA): window value " + std::to_string(v) + " does not fit in an int");
  return static_cast<int>(v);
}

std::unique_ptr<Plan> make_plan(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Shape& xs) {
  auto p = std::make_unique<Plan>();
  set_tensor_descriptor(p->x_desc, xs, f);
  const cudnnPoolingMode_t m =
      mode == PoolMode::Max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
  check(cudnnSetPooling2dDescriptor(p->pool.get(), m, CUDNN_NOT_PROPAGATE_NAN, window_int(w.kh), window_int(w.kw),
                                    window_int(w.ph), window_int(w.pw), window_int(w.sh), window_int(w.sw)),
        "cudnnSetPooling2dDescriptor");
  int n = 0, c = 0, h = 0, wd = 0;
  check(cudnnGetPooling2dForwardOutputDim(p->pool.get(), p->x_desc.get(), &n, &c, &h, &wd),
        "cudnnGetPooling2dForwardOutputDim");
  p->y = {n, c, h, wd};
  set_tensor_descriptor(p->y_desc, p->y, f);
  return p;
}

using Key = std::array<int64_t, 12>;
std::mutex g_plans_mutex;
std::map<Key, std::unique_ptr<Plan>>& plans() {
  static auto* m = new std::map<Key, std::unique_ptr<Plan>>;
  return *m;
}

// The caller holds g_plans_mutex.
Plan& plan(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Shape& xs) {
  NF_CHECK(xs.size() == 4, "pooling (CUDA): 4-d input expected, got " + shape_str(xs));
  const Key k{static_cast<int64_t>(mode), xs[0], xs[1], xs[2], xs[3], w.kh, w.kw, w.sh, w.sw, w.ph, w.pw,
              static_cast<int64_t>(f)};
  std::unique_ptr<Plan>& slot = plans()[k];
  if (!slot) slot = make_plan(mode, w, f, xs);
  return *slot;
}

const float kOne = 1.f, kZero = 0.f;

}  // namespace

void pool_forward(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Tensor& x, const Tensor& y) {
  Scope scope(x.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  const Plan& p = plan(mode, w, f, x.shape());
  check_described("pooling", "x", x, x.shape(), f);
  check_described("pooling", "y", y, p.y, f);
  check(cudnnPoolingForward(cudnn(), p.pool.get(), &kOne, p.x_desc.get(), x.data<float>(), &kZero, p.y_desc.get(),
                            y.data<float>()),
        "cudnnPoolingForward");
}

void pool_backward(PoolMode mode, const PoolWindow& w, MemoryFormat f, const Tensor& x, const Tensor& y,
                   const Tensor& dy, const Tensor& dx) {
  Scope scope(dy.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  const Plan& p = plan(mode, w, f, x.shape());
  check_described("pooling", "x", x, x.shape(), f);
  check_described("pooling", "y", y, p.y, f);
  check_described("pooling", "dy", dy, p.y, f);
  check_described("pooling", "dx", dx, x.shape(), f);
  check(cudnnPoolingBackward(cudnn(), p.pool.get(), &kOne, p.y_desc.get(), y.data<float>(), p.y_desc.get(),
                             dy.data<float>(), p.x_desc.get(), x.data<float>(), &kZero, p.x_desc.get(),
                             dx.data<float>()),
        "cudnnPoolingBackward");
}

}  // namespace nf::cuda
