#include "data/loader.h"

#include <cstring>
#include <numeric>

namespace nf::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// One 64-bit seed from several values; the first part after `seed` names the stream.
uint64_t derive_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6e66646174616c64ull;
  for (uint64_t p : parts) h = splitmix64(h ^ p);
  return h;
}
constexpr uint64_t kOrderStream = 1, kSampleStream = 2;

int64_t count_batches(int64_t n, const LoaderOptions& o) {
  NF_CHECK(o.batch_size > 0, "data loader: batch_size must be > 0, got " + std::to_string(o.batch_size));
  return o.drop_last ? n / o.batch_size : (n + o.batch_size - 1) / o.batch_size;
}

const Dataset& checked(const std::shared_ptr<const Dataset>& d) {
  NF_CHECK(d != nullptr, "data loader: null dataset");
  NF_CHECK(d->size() > 0, "data loader: empty dataset");
  return *d;
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)),
      opt_(std::move(options)),
      in_shape_(checked(dataset_).sample_shape()),
      out_shape_(opt_.transforms.output_shape(in_shape_)),
      window_(std::max<int64_t>(1, int64_t(opt_.workers) * opt_.prefetch)) {
  NF_CHECK(opt_.workers >= 0 && opt_.prefetch >= 1, "data loader: workers must be >= 0 and prefetch >= 1, got " +
                                                        std::to_string(opt_.workers) + " and " +
                                                        std::to_string(opt_.prefetch));
  plan_shard();
  for (int w = 0; w < opt_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
}

void DataLoader::plan_shard() {
  const int64_t N = dataset_->size(), W = opt_.world, r = opt_.rank;
  NF_CHECK(W >= 1 && r >= 0 && r < W, "data loader: rank " + std::to_string(r) + " of " + std::to_string(W));
  batch_start_ = {0};
  if (opt_.shard == Shard::Samples) {
    const int64_t per_rank = (N + W - 1) / W;  // padded: total = per_rank * W
    for (int64_t i = 0; i < per_rank; ++i) positions_.push_back(r + i * W);
    num_batches_ = count_batches(per_rank, opt_);
    for (int64_t k = 1; k <= num_batches_; ++k) batch_start_.push_back(std::min(k * opt_.batch_size, per_rank));
  } else {
    const int64_t global = count_batches(N, opt_);
    for (int64_t g = r; g < global; g += W) {
      for (int64_t p = g * opt_.batch_size; p < std::min((g + 1) * opt_.batch_size, N); ++p) positions_.push_back(p);
      batch_start_.push_back(static_cast<int64_t>(positions_.size()));
    }
    num_batches_ = static_cast<int64_t>(batch_start_.size()) - 1;
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  NF_CHECK(epoch >= 0, "data loader: epoch must be >= 0, got " + std::to_string(epoch));
  NF_CHECK(first_batch >= 0 && first_batch <= num_batches_,
           "data loader: first batch " + std::to_string(first_batch) + " outside [0, " +
               std::to_string(num_batches_) + "]");
  auto order = std::make_shared<std::vector<int64_t>>(dataset_->size());
  std::iota(order->begin(), order->end(), int64_t(0));
  if (opt_.shuffle) {  // Fisher-Yates with the epoch's generator
    Generator gen(derive_seed({opt_.seed, kOrderStream, uint64_t(epoch)}));
    for (int64_t i = static_cast<int64_t>(order->size()) - 1; i > 0; --i)
      std::swap((*order)[i], (*order)[random_index(gen, i + 1)]);
  }
  std::map<int64_t, Prepared> abandoned;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++generation_;
    started_ = true;
    epoch_ = epoch;
    order_ = std::move(order);
    next_claim_ = next_deliver_ = first_batch;
    abandoned.swap(ready_);  // freed outside the lock
  }
  work_cv_.notify_all();
}

bool DataLoader::next(Batch& b) {
  std::unique_lock<std::mutex> lk(mu_);
  NF_CHECK(started_, "data loader: next() called before start_epoch()");
  if (next_deliver_ >= num_batches_) return false;
  const int64_t index = next_deliver_;
  Prepared p;
  if (threads_.empty()) {
    ++next_deliver_;
    auto order = order_;
    const int64_t epoch = epoch_;
    lk.unlock();
    try {
      p.batch = make_batch(*order, epoch, index);
    } catch (...) {
      p.error = std::current_exception();
    }
  } else {
    ready_cv_.wait(lk, [&] { return ready_.count(index) > 0; });
    p = std::move(ready_.extract(index).mapped());
    ++next_deliver_;
    lk.unlock();
    work_cv_.notify_all();  // the window moved
  }
  if (p.error) {
    try {
      std::rethrow_exception(p.error);
    } catch (const std::exception& e) {
      throw Error("data loader, epoch " + std::to_string(epoch_) + " batch " + std::to_string(index) + ": " +
                  e.what());
    }
  }
  b = std::move(p.batch);
  return true;
}

bool DataLoader::can_claim() const {
  return started_ && next_claim_ < num_batches_ && next_claim_ < next_deliver_ + window_;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    work_cv_.wait(lk, [&] { return stop_ || can_claim(); });
    if (stop_) return;
    const int64_t index = next_claim_++, epoch = epoch_;
    const uint64_t generation = generation_;
    const auto order = order_;
    lk.unlock();
    Prepared p;
    try {
      p.batch = make_batch(*order, epoch, index);
    } catch (...) {
      p.error = std::current_exception();
    }
    lk.lock();
    if (generation == generation_) {
      ready_.emplace(index, std::move(p));
      ready_cv_.notify_all();
    }
  }
}

Batch DataLoader::make_batch(const std::vector<int64_t>& order, int64_t epoch, int64_t index) const {
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t begin = batch_start_[index], count = batch_start_[index + 1] - begin;
  const int64_t in_numel = shape_numel(in_shape_), out_numel = shape_numel(out_shape_);
  Batch b;
  b.index = index;
  b.images = Tensor::empty({count, out_shape_[0], out_shape_[1], out_shape_[2]});
  b.labels = Tensor::empty({count}, DType::I64);
  float* images = b.images.data<float>();
  int64_t* labels = b.labels.data<int64_t>();
  std::vector<float> buf;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t pos = positions_[begin + k];  // beyond n: padding, the order's first samples again
    buf.resize(in_numel);
    Shape shape = in_shape_;
    dataset_->get(order[pos % n], buf.data(), &labels[k]);
    Generator gen(derive_seed({opt_.seed, kSampleStream, uint64_t(epoch), uint64_t(pos)}));
    opt_.transforms.apply(buf, shape, gen);
    NF_CHECK(shape == out_shape_, "data loader: transforms produced " + shape_str(shape) + ", expected " +
                                      shape_str(out_shape_));
    std::memcpy(images + k * out_numel, buf.data(), out_numel * sizeof(float));
  }
  return b;
}

}  // namespace nf::data
