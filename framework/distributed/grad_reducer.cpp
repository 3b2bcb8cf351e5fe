// GradReducer: buckets, the start of their allreduces from backward, the average (see grad_reducer.h).
#include "framework/distributed/grad_reducer.h"

#include <chrono>

#include "framework/autograd/autograd.h"
#include "framework/core/storage.h"
#include "framework/ops/eltwise.h"

namespace nf::dist {

GradReducer::GradReducer(const ProcessGroup& group, std::vector<Tensor> params, int64_t bucket_bytes)
    : group_(group), params_(std::move(params)), bucket_of_(params_.size()), ready_(params_.size(), 0) {
  NF_CHECK(bucket_bytes > 0, "gradient buckets must hold at least one byte");
  const int64_t cap = bucket_bytes / static_cast<int64_t>(sizeof(float));
  for (size_t k = params_.size(); k-- > 0;) {  // last registered first
    const Tensor& p = params_[k];
    NF_CHECK(p.dtype() == DType::F32 && p.is_contiguous() && p.device() == params_[0].device(),
             "gradient reducer: parameters must be dense F32 tensors on one device, got " + p.str());
    if (buckets_.empty() || (buckets_.back().offsets.back() >= cap))
      buckets_.push_back({{}, {0}, Tensor(), 0});
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    b.offsets.push_back(b.offsets.back() + p.numel());
    bucket_of_[k] = buckets_.size() - 1;
  }
  for (Bucket& b : buckets_) b.buffer = Tensor::empty({b.offsets.back()}, DType::F32, params_[0].device());
  for (size_t k = 0; k < params_.size(); ++k) params_[k].impl()->on_grad_ready = [this, k] { grad_ready(k); };
}

GradReducer::~GradReducer() {
  for (Tensor& p : params_) p.impl()->on_grad_ready = nullptr;
}

void GradReducer::grad_ready(size_t k) {
  if (ready_[k]) return;
  ready_[k] = 1;
  ++buckets_[bucket_of_[k]].done;
  while (next_start_ < buckets_.size() && buckets_[next_start_].done == buckets_[next_start_].params.size())
    start(next_start_++);
  group_.progress();
}

// Copies the bucket's gradients (zeros for a parameter without one) into its buffer and starts the allreduce.
void GradReducer::start(size_t bi) {
  Bucket& b = buckets_[bi];
  for (size_t j = 0; j < b.params.size(); ++j) {
    const Tensor g = params_[b.params[j]].grad();
    Tensor slice = b.buffer.narrow_batch(b.offsets[j], b.offsets[j + 1] - b.offsets[j]);
    if (!g.defined()) {
      slice.fill_(0.0);
      continue;
    }
    NF_CHECK(g.is_contiguous() && g.numel() == slice.numel(), "gradient reducer: unexpected gradient " + g.str());
    copy_bytes(slice.raw_data(), slice.device(), g.raw_data(), g.device(), g.numel() * sizeof(float));
  }
  group_.allreduce_async(b.buffer);
}

void GradReducer::finish() {
  while (next_start_ < buckets_.size()) start(next_start_++);
  const auto t0 = std::chrono::steady_clock::now();
  group_.wait_all();
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  NoGradGuard no_grad;
  const float inv = 1.0f / static_cast<float>(group_.size());
  for (Bucket& b : buckets_) {
    const Tensor avg = ops::mul_scalar(b.buffer, inv);
    for (size_t j = 0; j < b.params.size(); ++j) {
      Tensor& p = params_[b.params[j]];
      p.set_grad(avg.narrow_batch(b.offsets[j], b.offsets[j + 1] - b.offsets[j]).view(p.shape()));
    }
    b.done = 0;
  }
  std::fill(ready_.begin(), ready_.end(), 0);
  next_start_ = 0;
}

}  // namespace nf::dist
