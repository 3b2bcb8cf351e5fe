#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

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

  int64_t h = options.height, w = options.width;
  if (h == 0 || w == 0) {
    const Tensor first = decode_image(files_[0], options.channels);
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
  const Tensor img = decode_image(files_[i], shape_[0], shape_[1], shape_[2]);
  std::memcpy(chw_out, img.data<float>(), img.nbytes());
  *label = labels_[i];
}

}  // namespace nf::data
