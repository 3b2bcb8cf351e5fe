// Multi-tensor SGD and AdamW kernels (see optimizer_update.h). A launch gets a Table:
// the update's scalars, up to kMaxTensorsPerLaunch tensors, and for each tensor the
// index of its first work item, where a work item is kChunk consecutive elements of
// one tensor. Blocks take work items grid-stride, find the item's tensor by binary
// search over those first indices, and update its elements with one thread each, so
// every element is written by exactly one thread (bitwise deterministic).
#include "framework/backends/cuda/optimizer_update.h"

#include <algorithm>
#include <memory>

#include "framework/backends/cuda/context.h"

namespace nf::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 2048;  // elements per work item: 8 per thread
constexpr int kMaxTensorsPerLaunch = 512;
constexpr int64_t kMaxBlocks = 65535 * 4;
constexpr size_t kMaxParamBytes = 32764;  // kernel parameter limit (CUDA >= 12.1, sm_70+)

template <class E, class C>
struct Table {
  C c;
  int count;                                    // tensors in t
  int64_t items;                                // work items over all of them
  int64_t first_item[kMaxTensorsPerLaunch];     // increasing; tensor k owns [first_item[k], first_item[k+1])
  E t[kMaxTensorsPerLaunch];
};

// d_p = grad + wd*param; buf = first ? d_p : momentum*buf + (1-dampening)*d_p;
// param -= lr * (nesterov ? d_p + momentum*buf : buf)   (buf only with momentum).
struct SgdOp {
  __device__ static void apply(const SgdTensor& e, const SgdConsts& c, int64_t i) {
    const float p = e.param[i];
    const float d = c.use_wd ? __fmaf_rn(p, c.wd, e.grad[i]) : e.grad[i];
    float step = d;
    if (c.use_momentum) {
      float b = d;
      if (!e.first_step) b = __fmaf_rn(d, c.one_minus_dampening, __fmul_rn(e.momentum_buf[i], c.momentum));
      e.momentum_buf[i] = b;
      step = c.nesterov ? __fmaf_rn(b, c.momentum, d) : b;
    }
    e.param[i] = __fmaf_rn(step, c.neg_lr, p);
  }
};

// param *= decay; m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
// param += neg_step_size*m / (sqrt(v)/bias_correction2_sqrt + eps).
struct AdamWOp {
  __device__ static void apply(const AdamWTensor& e, const AdamWConsts& c, int64_t i) {
    const float g = e.grad[i];
    const float p = __fmul_rn(e.param[i], c.decay);
    const float m = __fmaf_rn(g, c.one_minus_beta1, __fmul_rn(e.exp_avg[i], c.beta1));
    const float v = __fmaf_rn(__fmul_rn(c.one_minus_beta2, g), g, __fmul_rn(e.exp_avg_sq[i], c.beta2));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), e.bias_correction2_sqrt), c.eps);
    e.param[i] = __fadd_rn(p, __fdiv_rn(__fmul_rn(e.neg_step_size, m), denom));
    e.exp_avg[i] = m;
    e.exp_avg_sq[i] = v;
  }
};

template <class Op, class E, class C>
__global__ void __launch_bounds__(kThreads) multi_tensor_kernel(const __grid_constant__ Table<E, C> table) {
  for (int64_t item = blockIdx.x; item < table.items; item += gridDim.x) {
    int lo = 0, hi = table.count - 1;  // the last tensor whose first item is <= item
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (table.first_item[mid] <= item)
        lo = mid;
      else
        hi = mid - 1;
    }
    const E& e = table.t[lo];
    const int64_t begin = (item - table.first_item[lo]) * kChunk;
    const int64_t end = e.n - begin < kChunk ? e.n : begin + kChunk;
    for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) Op::apply(e, table.c, i);
  }
}

// One launch per kMaxTensorsPerLaunch non-empty tensors, on the current device's stream.
// The table is a kernel parameter, copied at launch: nothing to keep alive afterwards.
template <class Op, class E, class C>
void launch(const std::vector<E>& tensors, const C& c, const char* name) {
  using T = Table<E, C>;
  static_assert(sizeof(T) <= kMaxParamBytes, "optimizer table exceeds the kernel parameter limit");
  auto table = std::make_unique<T>();
  size_t next = 0;
  while (next < tensors.size()) {
    table->c = c;
    table->count = 0;
    table->items = 0;
    for (; next < tensors.size() && table->count < kMaxTensorsPerLaunch; ++next) {
      const E& e = tensors[next];
      if (e.n == 0) continue;
      table->first_item[table->count] = table->items;
      table->t[table->count] = e;
      table->items += (e.n + kChunk - 1) / kChunk;
      ++table->count;
    }
    if (table->count == 0) continue;
    const auto blocks = static_cast<unsigned>(std::min(table->items, kMaxBlocks));
    multi_tensor_kernel<Op><<<blocks, kThreads, 0, stream()>>>(*table);
    check_launch(name);
  }
}

}  // namespace

void sgd_multi(const std::vector<SgdTensor>& tensors, const SgdConsts& c) {
  launch<SgdOp>(tensors, c, "sgd multi_tensor_kernel");
}

void adamw_multi(const std::vector<AdamWTensor>& tensors, const AdamWConsts& c) {
  launch<AdamWOp>(tensors, c, "adamw multi_tensor_kernel");
}

}  // namespace nf::cuda
