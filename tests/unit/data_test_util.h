// Helpers shared by the data/ tests (test_data.cpp, test_transforms.cpp,
// test_loader.cpp): temporary directories and files, expected nf::Errors, one sample
// of a Dataset ([C, H, W] floats + label) and whole epochs of a DataLoader.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/loader.h"

namespace nf::test {

namespace fs = std::filesystem;

// Real CIFAR-10 sample (CI has ../shared beside the clone); tests skip when absent.
inline const std::string kCifarSample = NF_SOURCE_DIR "/../shared/data/cifar10-sample/cifar-10-batches-bin";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("nf_data_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str() const { return path.string(); }
};

inline void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Expects f() to throw nf::Error whose message contains every string in parts.
template <class F>
void expect_error(F&& f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no nf::Error thrown (expected one mentioning " << parts[0] << ")";
  } catch (const Error& e) {
    std::printf("[error] %s\n", e.what());
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

inline std::pair<std::vector<float>, int64_t> sample(const data::Dataset& d, int64_t i) {
  std::vector<float> v(d.sample_numel());
  int64_t label = -1;
  d.get(i, v.data(), &label);
  return {v, label};
}

inline std::vector<data::Batch> epoch(data::DataLoader& l, int64_t e) {
  l.start_epoch(e);
  std::vector<data::Batch> out;
  for (data::Batch b; l.next(b);) out.push_back(b);
  return out;
}

inline std::vector<int64_t> labels_of(const std::vector<data::Batch>& batches) {
  std::vector<int64_t> out;
  for (const data::Batch& b : batches)
    for (int64_t v : b.labels.to_int_vector()) out.push_back(v);
  return out;
}

}  // namespace nf::test
