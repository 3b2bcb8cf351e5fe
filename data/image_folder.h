// Image folders as torchvision's ImageFolder: root/split/CLASS_NAME/**/*.{png,jpg,...}
// with split "train" or "test". Classes are the sub-folder names of root/train (or
// of root/split when there is no train folder), sorted by name, labelled 0..K-1, so
// both splits share one labelling; files are sorted by path. Images are decoded on
// get() (data/image.h, OpenCV) to [channels, height, width]; height/width 0 means
// the size of the first image, and every image is resized to that.
// A file that does not decode is an nf::Error naming it, when it is read (or at
// construction, with skip_bad_images: then every file is decoded once, the ones that
// fail are dropped and counted in a warning "skipped N undecodable images in ROOT/SPLIT").
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace nf::data {

struct ImageFolderOptions {
  int64_t channels = 3;  // 1 (gray) or 3 (RGB)
  int64_t height = 0;
  int64_t width = 0;
  bool skip_bad_images = false;  // decode every file once at construction; drop the undecodable ones
};

class ImageFolder : public Dataset {
 public:
  ImageFolder(const std::string& root, const std::string& split, ImageFolderOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape sample_shape() const override { return shape_; }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  int64_t label(int64_t i) const override;
  void get(int64_t i, float* chw_out, int64_t* label) const override;
  std::vector<std::string> class_names() const override { return classes_; }
  const std::string& path(int64_t i) const { return files_.at(i); }

 private:
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  Shape shape_;
};

}  // namespace nf::data
