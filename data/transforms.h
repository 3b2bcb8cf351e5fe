// Per-sample transforms on one image held as CHW floats (buf has C*H*W values,
// shape = [C, H, W]); a transform may change H and W (RandomCrop) and then resizes
// buf and updates shape. Randomness comes only from the Generator passed in, through
// random_index / random_unit below (plain integer arithmetic on the engine's 64-bit
// outputs, so results are the same with every standard library).
//   RandomCrop{size, padding}: zero-pad each side by padding, take a size x size
//     window at a random offset (top, then left), as torchvision RandomCrop.
//   HorizontalFlip{p}: mirror the columns with probability p (one draw per sample).
//   Normalize{mean[C], std[C]}: x = (x - mean[c]) / std[c].
//   Cutout{size}: zero one size x size square centred at a random pixel (row, then
//     column), clipped at the borders: rows [cy - size/2, cy + size/2) as in
//     DeVries & Taylor's reference code, all channels.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/random.h"
#include "framework/core/tensor.h"

namespace nf::data {

int64_t random_index(Generator& gen, int64_t n);  // in [0, n), n > 0
double random_unit(Generator& gen);               // in [0, 1), 53 random bits

class Transform {
 public:
  virtual ~Transform() = default;
  // Shape produced for an input of shape [C, H, W]; nf::Error when the input does not fit.
  virtual Shape output_shape(const Shape& chw) const { return chw; }
  virtual void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const = 0;
};

struct RandomCropOptions {
  int64_t size = 32;
  int64_t padding = 0;
};
struct HorizontalFlipOptions {
  double p = 0.5;
};
struct NormalizeOptions {
  std::vector<float> mean, std;
};
struct CutoutOptions {
  int64_t size = 16;
};

class RandomCrop : public Transform {
 public:
  explicit RandomCrop(RandomCropOptions o);
  Shape output_shape(const Shape& chw) const override;
  void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const override;

 private:
  RandomCropOptions o_;
};

class HorizontalFlip : public Transform {
 public:
  explicit HorizontalFlip(HorizontalFlipOptions o);
  void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const override;

 private:
  HorizontalFlipOptions o_;
};

class Normalize : public Transform {
 public:
  explicit Normalize(NormalizeOptions o);
  Shape output_shape(const Shape& chw) const override;
  void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const override;

 private:
  NormalizeOptions o_;
};

class Cutout : public Transform {
 public:
  explicit Cutout(CutoutOptions o);
  void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const override;

 private:
  CutoutOptions o_;
};

// Transforms applied in order. Copies share the (immutable) transforms.
class Compose {
 public:
  Compose() = default;
  Compose& add(std::shared_ptr<const Transform> t);
  template <class T, class Options>
  Compose& add(Options o) {
    return add(std::make_shared<const T>(std::move(o)));
  }
  Shape output_shape(const Shape& chw) const;
  void apply(std::vector<float>& buf, Shape& chw, Generator& gen) const;
  size_t size() const { return list_.size(); }

 private:
  std::vector<std::shared_ptr<const Transform>> list_;
};

}  // namespace nf::data
