// evaluate(): one pass over this rank's batches, per-batch results read back once at the
// end, then combined across the ranks of a data-parallel run exactly (see evaluation.h).
#include "tools/train/evaluation.h"

#include <algorithm>

#include "framework/autograd/autograd.h"
#include "framework/distributed/process_group.h"
#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"

namespace nf {

EvalResult evaluate(Module& model, data::DataLoader& loader, const Placement& where, std::vector<float>* logits) {
  const dist::ProcessGroup& group = dist::world();
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  // Per-batch results stay on the device until the end: one wait for the GPU, not one per batch.
  struct Batch {
    Tensor loss, top1, top5, logits;
    int64_t n;
  };
  std::vector<Batch> batches;
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    const Tensor labels = place(b.labels, where);
    Tensor out = model.forward(place(b.images, where));
    batches.push_back({ops::cross_entropy(out, labels), ops::topk_correct_count(out, labels, 1),
                       ops::topk_correct_count(out, labels, 5), logits ? out : Tensor(), b.labels.numel()});
  }
  if (was_training) model.train();

  // Rows [loss, top-1 count, top-5 count, samples] by the batch's index in the
  // one-process epoch (this rank's batch k is r + k * world: data::Shard::Batches); one
  // contributor per row, so the sum over the ranks is exact, and the totals are taken
  // in batch order, as one process takes them.
  const int64_t W = group.size(), r = group.rank();
  const int64_t global = group.allreduce_max(r + (static_cast<int64_t>(batches.size()) - 1) * W + 1);
  std::vector<double> rows(4 * global, 0.0);
  for (size_t k = 0; k < batches.size(); ++k) {
    double* row = &rows[4 * (r + static_cast<int64_t>(k) * W)];
    row[0] = batches[k].loss.item();
    row[1] = batches[k].top1.item();
    row[2] = batches[k].top5.item();
    row[3] = static_cast<double>(batches[k].n);
  }
  group.allreduce_sum(rows.data(), static_cast<int64_t>(rows.size()));
  EvalResult res;
  double loss_sum = 0;
  int64_t c1 = 0, c5 = 0;
  std::vector<int64_t> first(global + 1, 0);  // each batch's first sample in the epoch
  for (int64_t g = 0; g < global; ++g) {
    const double* row = &rows[4 * g];
    const auto n = static_cast<int64_t>(row[3]);
    loss_sum += row[0] * n;
    c1 += static_cast<int64_t>(row[1]);
    c5 += static_cast<int64_t>(row[2]);
    res.samples += n;
    first[g + 1] = first[g] + n;
  }
  NF_CHECK(res.samples > 0, "evaluation dataset is empty");
  res.loss = loss_sum / res.samples;
  res.top1 = double(c1) / res.samples;
  res.top5 = double(c5) / res.samples;
  if (logits) {  // every rank's rows in place (zeros elsewhere), summed: exact
    const int64_t K = batches.empty() ? 0 : batches[0].logits.size(1);
    const int64_t classes = group.allreduce_max(K);
    logits->assign(res.samples * classes, 0.0f);
    for (size_t k = 0; k < batches.size(); ++k) {
      const std::vector<float> v = batches[k].logits.contiguous().to_vector();
      std::copy(v.begin(), v.end(), logits->begin() + first[r + static_cast<int64_t>(k) * W] * classes);
    }
    group.allreduce_sum(logits->data(), static_cast<int64_t>(logits->size()));
  }
  return res;
}

}  // namespace nf
