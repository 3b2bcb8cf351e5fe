// Collective: what an op that spans the ranks of a data-parallel group needs of that
// group (SyncBatchNorm, framework/ops/sync_batch_norm.h). Declared on the ops side and
// implemented above it by dist::ProcessGroup (framework/distributed/process_group.h),
// so ops never include the distributed layer.
#pragma once
#include <cstdint>

namespace nf::ops {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int size() const = 0;  // the number of ranks
  // Blocking; every rank calls it in the same order. recv[r * n + i] = rank r's send[i].
  virtual void allgather(const double* send, int64_t n, double* recv) const = 0;
};

}  // namespace nf::ops
