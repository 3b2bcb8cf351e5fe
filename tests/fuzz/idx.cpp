// Fuzz target: the IDX (MNIST / Fashion-MNIST) reader (data/idx.h). Input: one mode
// byte (bit 0: Fashion-MNIST, bit 1: the train split, bit 2: the images file named .gz,
// bit 3: the labels file named .gz; zlib reads plain and gzip files alike), then the
// images file, then after a "\n@@\n" line the labels file. Every sample of an accepted
// dataset is read back.
#include <vector>

#include "data/idx.h"
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const auto set = (mode & 1) ? nf::data::IdxSet::FashionMnist : nf::data::IdxSet::Mnist;
  const bool train = mode & 2;
  const auto parts = nf_fuzz::split(data + 1, size - 1, 2);
  const auto dir = nf_fuzz::fresh_dir("idx");
  const std::string prefix = train ? "train" : "t10k";
  nf_fuzz::write_file(dir / (prefix + "-images-idx3-ubyte" + ((mode & 4) ? ".gz" : "")), parts[0]);
  if (parts.size() > 1) nf_fuzz::write_file(dir / (prefix + "-labels-idx1-ubyte" + ((mode & 8) ? ".gz" : "")), parts[1]);
  try {
    auto ds = nf::data::load_idx(set, dir.string(), train);
    nf_fuzz::require(ds->sample_shape().size() == 3 && ds->sample_shape()[0] == 1, "idx: sample shape");
    nf_fuzz::require(static_cast<int64_t>(ds->class_names().size()) == ds->num_classes(), "idx: class names");
    std::vector<float> chw(ds->sample_numel());
    for (int64_t i = 0; i < ds->size(); ++i) {
      int64_t label = -1;
      ds->get(i, chw.data(), &label);
      nf_fuzz::require(label >= 0 && label < ds->num_classes() && label == ds->label(i), "idx: label range");
    }
  } catch (const nf::Error&) {
  }
  return 0;
}
