// Evaluation of a model over a loader (`normforge eval` and the trainer's per-epoch
// test): mean cross-entropy, top-1 and top-5 in eval mode without a graph.
#pragma once
#include <cstdint>

#include "data/loader.h"
#include "layers/module.h"
#include "tools/train/runtime.h"

namespace nf {

struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;  // mean cross-entropy; accuracies as fractions
  int64_t samples = 0;
};

// Evaluates in eval mode under NoGradGuard; restores the module's previous mode.
// In a data-parallel run (framework/dist) every rank calls it with its shard of the
// batches (a loader with data::Shard::Batches) and gets the totals of the whole set,
// exactly the numbers of one process: per-batch results are summed in batch order.
// Batches go where `where` says (the model must already be there). With `logits`, also
// every sample's logits, [samples, classes] F32 on the CPU, in the loader's order.
EvalResult evaluate(Module& model, data::DataLoader& loader, const Placement& where = {},
                    std::vector<float>* logits = nullptr);

}  // namespace nf
