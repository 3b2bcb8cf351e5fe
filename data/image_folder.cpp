#include "data/image_folder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "data/image.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;

bool is_image(const fs::path& p) {  // torchvision's IMG_EXTENSIONS, any case
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == e) return true;
  return false;
}

std::vector<std::string> sorted_subdirs(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// decode_image, its error naming the file and the way around it.
Tensor decode(const std::string& file, int64_t channels, int64_t height = 0, int64_t width = 0) {
  try {
    return decode_image(file, channels, height, width);
  } catch (const Error& e) {
    throw Error("image_folder: " + std::string(e.what()) + "; data.skip_bad_images: true skips such files");
  }
}

// Which of `files` decode_image cannot decode (1 = bad): each decoded once, on up to
// 8 threads. Any other failure (out of memory) is rethrown.
std::vector<char> find_undecodable(const std::vector<std::string>& files, int64_t channels) {
  std::vector<char> bad(files.size(), 0);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr failure;
  auto work = [&] {
    for (size_t i; (i = next++) < files.size();) {
      try {
        decode_image(files[i], channels);
      } catch (const Error&) {
        bad[i] = 1;
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        next = files.size();
      }
    }
  };
  const size_t n = std::min<size_t>({8, std::max(1u, std::thread::hardware_concurrency()), files.size()});
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  return bad;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, const std::string& split, ImageFolderOptions options) {
  NF_CHECK(image_decoding_available(),
           "image_folder dataset " + root + ": normforge was built without OpenCV (NF_WITH_OPENCV=OFF)");
  NF_CHECK(options.channels == 1 || options.channels == 3,
           "image_folder: channels must be 1 or 3, got " + std::to_string(options.channels));
  NF_CHECK(options.height >= 0 && options.width >= 0, "image_folder: negative image size");
  const fs::path split_dir = fs::path(root) / split;
  NF_CHECK(fs::is_directory(split_dir), "image_folder: " + split_dir.string() + " is not a directory");
  const fs::path train_dir = fs::path(root) / "train";
  classes_ = sorted_subdirs(fs::is_directory(train_dir) ? train_dir : split_dir);
  NF_CHECK(!classes_.empty(), "image_folder: no class folders in " + split_dir.string());

  for (const std::string& cls : sorted_subdirs(split_dir)) {
    auto it = std::find(classes_.begin(), classes_.end(), cls);
    NF_CHECK(it != classes_.end(), "image_folder: class folder " + (split_dir / cls).string() + " is not among the " +
                                       std::to_string(classes_.size()) + " classes of " + train_dir.string());
    std::vector<std::string> files;
    for (const fs::directory_entry& e :
         fs::recursive_directory_iterator(split_dir / cls, fs::directory_options::follow_directory_symlink))
      if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (std::string& f : files) {
      files_.push_back(std::move(f));
      labels_.push_back(it - classes_.begin());
    }
  }
  NF_CHECK(!files_.empty(), "image_folder: no image files (png, jpg, ...) under " + split_dir.string());

  if (options.skip_bad_images) {
    const std::vector<char> bad = find_undecodable(files_, options.channels);
    std::vector<std::string> kept_files, skipped;
    std::vector<int64_t> kept_labels;
    for (size_t i = 0; i < files_.size(); ++i) {
      if (bad[i]) {
        skipped.push_back(files_[i]);
        continue;
      }
      kept_files.push_back(std::move(files_[i]));
      kept_labels.push_back(labels_[i]);
    }
    files_ = std::move(kept_files);
    labels_ = std::move(kept_labels);
    if (!skipped.empty()) {
      std::string examples;
      for (size_t i = 0; i < skipped.size() && i < 3; ++i) examples += (i ? ", " : "") + skipped[i];
      spdlog::warn("skipped {} undecodable images in {} ({}{})", skipped.size(), split_dir.string(), examples,
                   skipped.size() > 3 ? ", ..." : "");
    }
    NF_CHECK(!files_.empty(), "image_folder: none of the " + std::to_string(skipped.size()) +
                                  " image files under " + split_dir.string() + " decodes");
  }

  int64_t h = options.height, w = options.width;
  if (h == 0 || w == 0) {
    const Tensor first = decode(files_[0], options.channels);
    if (h == 0) h = first.size(1);
    if (w == 0) w = first.size(2);
  }
  shape_ = {options.channels, h, w};
}

int64_t ImageFolder::label(int64_t i) const {
  check_index(i);
  return labels_[i];
}

void ImageFolder::get(int64_t i, float* chw_out, int64_t* label) const {
  check_index(i);
  const Tensor img = decode(files_[i], shape_[0], shape_[1], shape_[2]);
  std::memcpy(chw_out, img.data<float>(), img.nbytes());
  *label = labels_[i];
}

}  // namespace nf::data
