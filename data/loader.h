// DataLoader: batches of a Dataset, prepared ahead of the consumer by worker threads.
//   Batch.images [B, C, H, W] F32 (C, H, W after the transforms), Batch.labels [B]
//   I64, Batch.index = position of the batch in the epoch. B = batch_size except
//   for a smaller last batch when drop_last is false.
// Determinism: epoch e visits the samples in the order of a permutation drawn from a
// Generator seeded with (seed, e) (identity when shuffle is false), and the sample at
// position p of epoch e is transformed with a Generator seeded with (seed, e, p).
// Batches are delivered in order, so they are bitwise the same whatever the worker
// count and thread timing, and start_epoch(e) after a restart reproduces epoch e.
// Data parallelism (rank r of `world` processes, LoaderOptions.rank/world):
//   Shard::Samples (training; PyTorch's DistributedSampler): the epoch's order is padded
//     to a multiple of world by repeating its first positions, and rank r takes the
//     positions r, r + world, r + 2 world, ...: every rank the same number of samples
//     (so the same number of steps), all ranks together every sample at least once.
//   Shard::Batches (evaluation, so sums can be reduced exactly): the batches of the
//     one-process epoch are dealt round-robin; rank r's batch k is batch r + k * world
//     of the one-process epoch, the same samples in the same order.
// A sample's transform seed uses its position p in the (padded) order, so it is
// augmented the same whatever the world size. world = 1 is the one-process loader.
// Up to workers * prefetch batches are prepared ahead (a bounded window over the
// epoch). An exception while preparing a batch (unreadable image, ...) is rethrown
// by next() for that batch as an nf::Error. start_epoch() abandons an unfinished
// epoch; the destructor stops and joins the workers. next() and start_epoch() are
// called from one consumer thread.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace nf::data {

enum class Shard { Samples, Batches };

struct LoaderOptions {
  int64_t batch_size = 128;  // per rank
  bool shuffle = true;
  bool drop_last = false;
  int workers = 2;   // 0: batches are built inside next(), on the calling thread
  int prefetch = 2;  // batches prepared ahead, per worker
  uint64_t seed = 0;
  Compose transforms;
  int rank = 0, world = 1;
  Shard shard = Shard::Samples;
};

struct Batch {
  Tensor images;  // [B, C, H, W] F32
  Tensor labels;  // [B] I64
  int64_t index = 0;  // this rank's batch index in the epoch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Begins epoch `epoch` (>= 0) at batch first_batch (to resume inside an epoch).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch in order; false when the epoch is done.
  bool next(Batch& b);
  int64_t batches_per_epoch() const { return num_batches_; }  // this rank's
  int64_t samples_per_epoch() const { return static_cast<int64_t>(positions_.size()); }  // this rank's
  Shape sample_shape() const { return out_shape_; }  // [C, H, W] after the transforms
  const Dataset& dataset() const { return *dataset_; }

 private:
  struct Prepared {
    Batch batch;
    std::exception_ptr error;
  };
  Batch make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t index) const;
  void plan_shard();
  void worker_loop();
  bool can_claim() const;

  const std::shared_ptr<const Dataset> dataset_;
  const LoaderOptions opt_;
  const Shape in_shape_, out_shape_;
  // This rank's positions in the epoch's (padded) order, and where each of its batches
  // starts among them (num_batches_ + 1 entries); the same every epoch.
  std::vector<int64_t> positions_, batch_start_;
  int64_t num_batches_ = 0;
  const int64_t window_;  // batches prepared ahead at most

  std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  bool stop_ = false;
  bool started_ = false;
  uint64_t generation_ = 0;  // bumped by start_epoch: late results of an old epoch are dropped
  int64_t epoch_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t next_claim_ = 0, next_deliver_ = 0;
  std::map<int64_t, Prepared> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace nf::data
