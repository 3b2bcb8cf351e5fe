// SyncBatchNorm: batch_norm in training mode with the statistics of the global batch,
// the samples of every rank of a data-parallel group (PyTorch's SyncBatchNorm); the
// group is an ops::Collective (framework/ops/collective.h), e.g. dist::world().
// Shapes, the fused residual add and ReLU, the running-statistics update and the error
// cases are ops::batch_norm's with use_batch_stats = true (framework/ops/batch_norm.h),
// with n the global count:
//   forward: each rank's count n_r and double mean_r and biased var_r are all-gathered
//     and combined in rank order: n = sum n_r, mean = sum n_r mean_r / n,
//     var = sum n_r (var_r + (mean_r - mean)^2) / n; running_var takes var * n / (n - 1).
//     Ranks may hold different counts (an uneven last batch).
//   backward: sum_dy and sum_dy_xmu of every rank are all-gathered and summed in rank
//     order; dx uses those global sums and n; dweight and dbias are this rank's own
//     sums, which the gradient reducer then averages over the ranks, as DDP does.
// Every rank gets bitwise the same statistics. One blocking collective in forward and
// one in backward, on every rank, in the same layer order.
// On CUDA the statistics and gradient sums make a round trip through the host (where
// the ranks exchange them over MPI), a few [C] vectors per layer and step.
#pragma once
#include <optional>

#include "framework/ops/batch_norm.h"
#include "framework/ops/collective.h"

namespace nf::ops {

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, BatchNormState& state,
                       std::optional<double> momentum, double eps, const BatchNormFusion& fuse,
                       const Collective& group);

}  // namespace nf::ops
