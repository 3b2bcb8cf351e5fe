// Fuzz target: the CIFAR-10/100 binary readers (data/cifar.h). Input: one mode byte
// (bit 0: CIFAR-100, bit 1: the train split, bit 2: a class-names file, bit 3: CIFAR-10
// train gets a second batch file, a copy), then the data file, then after a "\n@@\n"
// line the class-names file. Every sample of an accepted dataset is read back.
#include <vector>

#include "data/cifar.h"
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool c100 = mode & 1, train = mode & 2, names = mode & 4, two = mode & 8;
  const auto parts = nf_fuzz::split(data + 1, size - 1, 2);
  const auto dir = nf_fuzz::fresh_dir("cifar");
  const std::string file = c100 ? (train ? "train.bin" : "test.bin") : (train ? "data_batch_1.bin" : "test_batch.bin");
  nf_fuzz::write_file(dir / file, parts[0]);
  if (two && !c100 && train) nf_fuzz::write_file(dir / "data_batch_3.bin", parts[0]);
  if (names && parts.size() > 1)
    nf_fuzz::write_file(dir / (c100 ? "fine_label_names.txt" : "batches.meta.txt"), parts[1]);
  try {
    auto ds = c100 ? nf::data::load_cifar100(dir.string(), train) : nf::data::load_cifar10(dir.string(), train);
    nf_fuzz::require(ds->sample_shape() == nf::Shape({3, 32, 32}), "cifar: sample shape");
    nf_fuzz::require(static_cast<int64_t>(ds->class_names().size()) == ds->num_classes(), "cifar: class names");
    std::vector<float> chw(ds->sample_numel());
    for (int64_t i = 0; i < ds->size(); ++i) {
      int64_t label = -1;
      ds->get(i, chw.data(), &label);
      nf_fuzz::require(label >= 0 && label < ds->num_classes() && label == ds->label(i), "cifar: label range");
      for (float v : chw) nf_fuzz::require(v >= 0.f && v <= 1.f, "cifar: pixel range");
    }
  } catch (const nf::Error&) {
  }
  return 0;
}
