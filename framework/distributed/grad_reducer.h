// Data-parallel gradient averaging, as PyTorch's DistributedDataParallel does it.
// The trainable parameters are split into buckets of about `bucket_bytes`, in reverse
// order of registration (about the order in which backward completes their gradients,
// last layer first). During backward, each parameter's on_grad_ready hook (autograd.h)
// marks its gradient done; when every gradient of a bucket is done and the buckets
// before it have started, the gradients are copied into the bucket's flat F32 buffer
// and its allreduce starts (ProcessGroup::allreduce_async), so communication overlaps
// the rest of backward. Buckets start in the same order on every rank.
// finish(), after backward and before the optimizer step, starts what is left (a
// parameter the pass did not reach contributes zeros), waits, and sets every gradient to
// its slice of the bucket's average, sum * (1 / world size): bitwise the same on every
// rank, so the optimizer steps identically everywhere.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/distributed/process_group.h"

namespace nf::dist {

class GradReducer {
 public:
  // params: dense F32 leaves on one device, every rank listing the same ones in the same order.
  GradReducer(const ProcessGroup& group, std::vector<Tensor> params, int64_t bucket_bytes);
  ~GradReducer();  // removes the hooks
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  void finish();
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Seconds the last finish() waited for allreduces still in flight.
  double last_wait_seconds() const { return last_wait_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    Tensor buffer;  // [numel] F32 on the parameters' device
    size_t done = 0;
  };
  void grad_ready(size_t param);
  void start(size_t bucket);

  const ProcessGroup& group_;
  std::vector<Tensor> params_;
  std::vector<size_t> bucket_of_;  // per parameter
  std::vector<char> ready_;        // per parameter, this pass
  std::vector<Bucket> buckets_;
  size_t next_start_ = 0;
  double last_wait_ = 0;
};

}  // namespace nf::dist
