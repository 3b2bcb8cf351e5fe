#include "data/dataset.h"

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"

namespace nf::data {

std::vector<std::string> Dataset::class_names() const {
  std::vector<std::string> names;
  for (int64_t c = 0; c < num_classes(); ++c) names.push_back(std::to_string(c));
  return names;
}

void Dataset::check_index(int64_t i) const {
  NF_CHECK(i >= 0 && i < size(),
           "dataset: sample index " + std::to_string(i) + " out of range [0, " + std::to_string(size()) + ")");
}

InMemoryDataset::InMemoryDataset(Shape sample_shape, std::vector<uint8_t> pixels, std::vector<int64_t> labels,
                                 int64_t num_classes, std::vector<std::string> class_names)
    : shape_(std::move(sample_shape)),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      num_classes_(num_classes),
      class_names_(std::move(class_names)) {
  NF_CHECK(static_cast<int64_t>(pixels_.size()) == size() * shape_numel(shape_),
           "InMemoryDataset: " + std::to_string(pixels_.size()) + " pixel bytes for " + std::to_string(size()) +
               " samples of " + shape_str(shape_));
}

int64_t InMemoryDataset::label(int64_t i) const {
  check_index(i);
  return labels_[i];
}

void InMemoryDataset::get(int64_t i, float* chw_out, int64_t* label) const {
  check_index(i);
  const int64_t n = shape_numel(shape_);
  const uint8_t* src = pixels_.data() + i * n;
  for (int64_t k = 0; k < n; ++k) chw_out[k] = src[k] / 255.f;  // as torchvision ToTensor
  *label = labels_[i];
}

std::vector<std::string> InMemoryDataset::class_names() const {
  return class_names_.empty() ? Dataset::class_names() : class_names_;
}

std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& root, const std::string& split,
                                      int64_t channels, int64_t image_size, bool skip_bad_images) {
  NF_CHECK(split == "train" || split == "test", "dataset split '" + split + "': expected train or test");
  const bool train = split == "train";
  if (name == "cifar10") return load_cifar10(root, train);
  if (name == "cifar100") return load_cifar100(root, train);
  if (name == "fashion_mnist") return load_idx(IdxSet::FashionMnist, root, train);
  if (name == "mnist") return load_idx(IdxSet::Mnist, root, train);
  if (name == "image_folder")
    return std::make_shared<ImageFolder>(root, split,
                                         ImageFolderOptions{channels, image_size, image_size, skip_bad_images});
  throw Error("dataset '" + name + "': expected cifar10, cifar100, fashion_mnist, mnist or image_folder");
}

}  // namespace nf::data
