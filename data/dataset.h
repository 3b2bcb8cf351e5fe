// Dataset: random access to labelled images. get(i) writes sample i as C*H*W floats
// in [0,1] (CHW, row-major, channels in RGB order) and its class label in
// [0, num_classes). get() is const and safe to call from several threads at once
// (the DataLoader's workers do).
//
// InMemoryDataset keeps every image as uint8 CHW bytes ([N, C, H, W], 1 byte per
// value) and converts on get(): CIFAR and IDX datasets are InMemoryDatasets.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace nf::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // [C, H, W]
  virtual int64_t num_classes() const = 0;
  virtual int64_t label(int64_t i) const = 0;  // cheap: no image decoding
  virtual void get(int64_t i, float* chw_out, int64_t* label) const = 0;
  // One name per class; "0", "1", ... when the files carry none.
  virtual std::vector<std::string> class_names() const;
  int64_t sample_numel() const { return shape_numel(sample_shape()); }

 protected:
  void check_index(int64_t i) const;  // nf::Error when i is outside [0, size())
};

class InMemoryDataset : public Dataset {
 public:
  // pixels: size() * C*H*W bytes, CHW per sample; labels already range-checked.
  InMemoryDataset(Shape sample_shape, std::vector<uint8_t> pixels, std::vector<int64_t> labels,
                  int64_t num_classes, std::vector<std::string> class_names);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Shape sample_shape() const override { return shape_; }
  int64_t num_classes() const override { return num_classes_; }
  int64_t label(int64_t i) const override;
  void get(int64_t i, float* chw_out, int64_t* label) const override;
  std::vector<std::string> class_names() const override;

 private:
  Shape shape_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  int64_t num_classes_;
  std::vector<std::string> class_names_;
};

// Opens a dataset by its recipe name: cifar10 | cifar100 | fashion_mnist | mnist |
// image_folder. split is "train" or "test". channels and image_size apply to
// image_folder only: 1 or 3 channels; every image resized to image_size x image_size
// (0: the size of the first image found); skip_bad_images: drop the files that do not
// decode (ImageFolderOptions::skip_bad_images) instead of failing on them.
std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& root,
                                      const std::string& split, int64_t channels = 3, int64_t image_size = 0,
                                      bool skip_bad_images = false);

}  // namespace nf::data
