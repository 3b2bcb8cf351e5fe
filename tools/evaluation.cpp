// evaluate(): one pass over the loader, per-batch results read back once at the end.
#include "tools/evaluation.h"

#include "framework/autograd/autograd.h"
#include "framework/ops/loss.h"
#include "framework/ops/metrics.h"

namespace nf {

EvalResult evaluate(Module& model, data::DataLoader& loader, const Placement& where, std::vector<float>* logits) {
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
  EvalResult res;
  double loss_sum = 0;
  int64_t c1 = 0, c5 = 0;
  for (const Batch& e : batches) {
    loss_sum += e.loss.item() * e.n;
    c1 += static_cast<int64_t>(e.top1.item());
    c5 += static_cast<int64_t>(e.top5.item());
    res.samples += e.n;
    if (logits) {
      const std::vector<float> v = e.logits.contiguous().to_vector();
      logits->insert(logits->end(), v.begin(), v.end());
    }
  }
  NF_CHECK(res.samples > 0, "evaluation dataset is empty");
  res.loss = loss_sum / res.samples;
  res.top1 = double(c1) / res.samples;
  res.top5 = double(c5) / res.samples;
  return res;
}

}  // namespace nf
