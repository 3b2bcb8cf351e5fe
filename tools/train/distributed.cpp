// Data parallelism in the trainer: logging per rank, broadcasts, the replica check, the reducer.
#include "tools/train/distributed.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "framework/autograd/autograd.h"
#include "framework/distributed/process_group.h"

namespace nf {

namespace {

// FNV-1a over the bytes of every parameter, in order; 62 bits (so its negation is an int64).
int64_t parameters_hash(Module& model) {
  uint64_t h = 1469598103934665603ull;
  for (auto& [name, p] : model.named_parameters()) {
    const Tensor c = p.to(Device::cpu()).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.raw_data());
    for (size_t i = 0, n = c.numel() * dtype_size(c.dtype()); i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  }
  return static_cast<int64_t>(h >> 2);
}

}  // namespace

void configure_rank_logging() {
  const dist::ProcessGroup& g = dist::world();
  if (!g.distributed()) return;
  if (!g.is_root()) spdlog::set_level(spdlog::level::warn);
  spdlog::set_pattern(fmt::format("[%H:%M:%S rank {}] %v", g.rank()));
}

void broadcast_model(Module& model) {
  if (!dist::world().distributed()) return;
  NoGradGuard no_grad;
  for (auto& [name, t] : model.named_parameters()) dist::world().broadcast(t);
  broadcast_buffers(model);
}

void broadcast_buffers(Module& model) {
  if (!dist::world().distributed()) return;
  for (auto& [name, t] : model.named_buffers()) dist::world().broadcast(t);
}

void check_replicas_identical(Module& model) {
  const dist::ProcessGroup& g = dist::world();
  if (!g.distributed()) return;
  const int64_t h = parameters_hash(model);
  NF_CHECK(g.allreduce_max(h) == -g.allreduce_max(-h),
           "the ranks' weights differ (rank " + std::to_string(g.rank()) +
               "'s hash " + std::to_string(h) + "): data-parallel replicas must stay bitwise identical");
}

std::unique_ptr<dist::GradReducer> make_grad_reducer(const Recipe& r, Module& model) {
  if (!dist::world().distributed()) return nullptr;
  std::vector<Tensor> params;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) params.push_back(p);
  return std::make_unique<dist::GradReducer>(dist::world(), params,
                                             static_cast<int64_t>(r.trainer.bucket_mb * (1 << 20)));
}

}  // namespace nf
