#include "data/cifar.h"

#include <filesystem>
#include <fstream>

namespace nf::data {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kPixels = 3 * 32 * 32;

struct Format {
  const char* name;
  int64_t label_bytes;  // label bytes before the pixels
  int64_t label_at;     // which of them is the label used
  int64_t num_classes;
  const char* names_file;
};
constexpr Format kCifar10{"CIFAR-10", 1, 0, 10, "batches.meta.txt"};
constexpr Format kCifar100{"CIFAR-100", 2, 1, 100, "fine_label_names.txt"};

std::vector<std::string> read_names(const fs::path& path, int64_t expected) {
  std::ifstream in(path);
  if (!in) return {};
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  NF_CHECK(static_cast<int64_t>(names.size()) == expected,
           path.string() + ": " + std::to_string(names.size()) + " class names, expected " +
               std::to_string(expected));
  return names;
}

// Appends the records of one file to pixels/labels.
void read_file(const Format& f, const fs::path& path, std::vector<uint8_t>& pixels,
               std::vector<int64_t>& labels) {
  std::ifstream in(path, std::ios::binary);
  NF_CHECK(in, f.name + std::string(": cannot open ") + path.string());
  std::error_code ec;
  const bool regular = fs::is_regular_file(path, ec);
  const uintmax_t size = regular ? fs::file_size(path, ec) : 0;
  NF_CHECK(regular && !ec, f.name + std::string(": cannot read ") + path.string() +
                               (ec ? " (" + ec.message() + ")" : std::string(" (not a regular file)")));
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  NF_CHECK(in, f.name + std::string(": cannot read ") + path.string());
  const int64_t record = f.label_bytes + kPixels;
  const int64_t n = static_cast<int64_t>(bytes.size()) / record;
  NF_CHECK(static_cast<int64_t>(bytes.size()) % record == 0 && n > 0,
           path.string() + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
               f.name + " records of " + std::to_string(record) + " bytes");
  pixels.reserve(pixels.size() + n * kPixels);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * record;
    const int64_t label = rec[f.label_at];
    NF_CHECK(label < f.num_classes, path.string() + ": record " + std::to_string(r) + " has label " +
                                        std::to_string(label) + ", expected 0.." +
                                        std::to_string(f.num_classes - 1));
    labels.push_back(label);
    pixels.insert(pixels.end(), rec + f.label_bytes, rec + record);
  }
}

std::shared_ptr<InMemoryDataset> load(const Format& f, const fs::path& root, const std::vector<fs::path>& files) {
  NF_CHECK(fs::is_directory(root), f.name + std::string(": data root ") + root.string() + " is not a directory");
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const fs::path& file : files) read_file(f, file, pixels, labels);
  return std::make_shared<InMemoryDataset>(Shape{3, 32, 32}, std::move(pixels), std::move(labels), f.num_classes,
                                           read_names(root / f.names_file, f.num_classes));
}

}  // namespace

std::shared_ptr<InMemoryDataset> load_cifar10(const std::string& root, bool train) {
  const fs::path dir(root);
  if (!train) return load(kCifar10, dir, {dir / "test_batch.bin"});
  std::vector<fs::path> files;
  for (int b = 1; b <= 5; ++b) {
    fs::path p = dir / ("data_batch_" + std::to_string(b) + ".bin");
    if (fs::exists(p)) files.push_back(p);
  }
  NF_CHECK(!files.empty() || !fs::is_directory(dir),
           "CIFAR-10: none of data_batch_1.bin .. data_batch_5.bin found in " + root);
  return load(kCifar10, dir, files);
}

std::shared_ptr<InMemoryDataset> load_cifar100(const std::string& root, bool train) {
  const fs::path dir(root);
  return load(kCifar100, dir, {dir / (train ? "train.bin" : "test.bin")});
}

}  // namespace nf::data
