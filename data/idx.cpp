#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace nf::data {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kNumClasses = 10;

// One IDX file opened through zlib (gzip or plain); closes on destruction.
class IdxFile {
 public:
  explicit IdxFile(std::string path) : path_(std::move(path)), f_(gzopen(path_.c_str(), "rb")) {
    NF_CHECK(f_, "cannot open " + path_);
  }
  ~IdxFile() { gzclose(f_); }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  // Reads the header, checks magic 0x000008NN with NN == ndims, returns the dims.
  std::vector<int64_t> header(int ndims) {
    uint8_t magic[4];
    read(magic, 4, "header");
    NF_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] == ndims,
             path_ + ": bad IDX magic " + hex(magic) + ", expected 0x0000080" + std::to_string(ndims) +
                 " (unsigned bytes, " + std::to_string(ndims) + " dimensions)");
    std::vector<int64_t> dims(ndims);
    for (int64_t& d : dims) {
      uint8_t b[4];
      read(b, 4, "header");
      d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]);
      NF_CHECK(d > 0, path_ + ": IDX dimension of size 0");
    }
    return dims;
  }

  // Reads exactly n bytes of data and checks that nothing follows. The buffer grows as
  // data arrives, so a header that claims more than the file holds costs no more
  // memory than the file.
  std::vector<uint8_t> data(int64_t n) {
    constexpr int64_t kChunk = int64_t(1) << 24;
    std::vector<uint8_t> out;
    while (static_cast<int64_t>(out.size()) < n) {
      const int64_t start = static_cast<int64_t>(out.size()), len = std::min(kChunk, n - start);
      out.resize(start + len);
      const int64_t got = read_upto(out.data() + start, len);
      NF_CHECK(got == len, path_ + ": truncated data: " + std::to_string(start + got) + " of " + std::to_string(n) +
                               " bytes");
    }
    uint8_t extra;
    NF_CHECK(gzread(f_, &extra, 1) == 0, path_ + ": more data than the IDX header's " + std::to_string(n) + " bytes");
    return out;
  }

 private:
  // Up to n bytes (fewer at the end of the file).
  int64_t read_upto(uint8_t* dst, int64_t n) {
    int64_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
      const int got = gzread(f_, dst + done, chunk);
      if (got < 0) {
        int code = 0;
        throw Error(path_ + ": read error: " + gzerror(f_, &code));
      }
      if (got == 0) break;
      done += got;
    }
    return done;
  }
  void read(uint8_t* dst, int64_t n, const char* what) {
    const int64_t done = read_upto(dst, n);
    NF_CHECK(done == n, path_ + ": truncated " + what + ": " + std::to_string(done) + " of " + std::to_string(n) +
                            " bytes");
  }
  static std::string hex(const uint8_t* b) {
    char s[11];
    std::snprintf(s, sizeof s, "0x%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return s;
  }

  std::string path_;
  gzFile f_;
};

// root/name, or root/name.gz when only that exists.
std::string find_file(const fs::path& root, const std::string& name) {
  for (const fs::path& p : {root / name, root / (name + ".gz")})
    if (fs::exists(p)) return p.string();
  throw Error("IDX: neither " + name + " nor " + name + ".gz found in " + root.string());
}

std::vector<std::string> names(IdxSet set) {
  if (set == IdxSet::FashionMnist)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return {};  // MNIST: the digits, Dataset's default "0".."9"
}

}  // namespace

std::shared_ptr<InMemoryDataset> load_idx(IdxSet set, const std::string& root, bool train) {
  NF_CHECK(fs::is_directory(root), "IDX: data root " + root + " is not a directory");
  const std::string prefix = train ? "train" : "t10k";
  const std::string image_path = find_file(root, prefix + "-images-idx3-ubyte");
  const std::string label_path = find_file(root, prefix + "-labels-idx1-ubyte");

  IdxFile images(image_path);
  const std::vector<int64_t> d = images.header(3);
  // Each dimension is below 2^32: check the product step by step, before it can overflow.
  constexpr int64_t kMaxBytes = int64_t(1) << 34;
  NF_CHECK(d[0] <= kMaxBytes / d[1] && d[0] * d[1] <= kMaxBytes / d[2],
           image_path + ": implausible IDX dimensions " + shape_str(d));
  std::vector<uint8_t> pixels = images.data(d[0] * d[1] * d[2]);

  IdxFile labels_file(label_path);
  const int64_t n = labels_file.header(1)[0];
  NF_CHECK(n == d[0], label_path + " has " + std::to_string(n) + " labels but " + image_path + " has " +
                          std::to_string(d[0]) + " images");
  const std::vector<uint8_t> bytes = labels_file.data(n);
  std::vector<int64_t> labels(bytes.begin(), bytes.end());
  for (int64_t i = 0; i < n; ++i)
    NF_CHECK(labels[i] < kNumClasses, label_path + ": label " + std::to_string(labels[i]) + " of item " +
                                          std::to_string(i) + " out of range 0.." + std::to_string(kNumClasses - 1));
  return std::make_shared<InMemoryDataset>(Shape{1, d[1], d[2]}, std::move(pixels), std::move(labels), kNumClasses,
                                           names(set));
}

}  // namespace nf::data
