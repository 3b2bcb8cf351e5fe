// The per-channel double sums of a BatchNorm backward that both backends hand to
// SyncBatchNorm (framework/ops/sync_batch_norm.cpp), which combines them across ranks
// on the host: cpu:: and cuda::batch_norm_grad_sums return them, *_grad_apply take them.
#pragma once
#include <vector>

namespace nf {

struct BatchNormGradSums {
  std::vector<double> dy, dy_xmu;  // sum g', sum g' * (x - mean); [C]
};

}  // namespace nf
