#include "data/transforms.h"

#include <algorithm>

namespace nf::data {
namespace {

void check_chw(const Shape& chw, const char* who) {
  NF_CHECK(chw.size() == 3 && chw[0] > 0 && chw[1] > 0 && chw[2] > 0,
           std::string(who) + ": expected a [C, H, W] image, got " + shape_str(chw));
}

}  // namespace

int64_t random_index(Generator& gen, int64_t n) { return static_cast<int64_t>(gen.next() % static_cast<uint64_t>(n)); }

double random_unit(Generator& gen) { return static_cast<double>(gen.next() >> 11) * 0x1.0p-53; }

RandomCrop::RandomCrop(RandomCropOptions o) : o_(o) {
  NF_CHECK(o_.size > 0 && o_.padding >= 0, "random_crop: size must be > 0 and padding >= 0, got size " +
                                               std::to_string(o_.size) + ", padding " + std::to_string(o_.padding));
}

Shape RandomCrop::output_shape(const Shape& chw) const {
  check_chw(chw, "random_crop");
  NF_CHECK(o_.size <= chw[1] + 2 * o_.padding && o_.size <= chw[2] + 2 * o_.padding,
           "random_crop: size " + std::to_string(o_.size) + " larger than the padded image " + shape_str(chw) +
               " + 2*" + std::to_string(o_.padding));
  return {chw[0], o_.size, o_.size};
}

void RandomCrop::apply(std::vector<float>& buf, Shape& chw, Generator& gen) const {
  const Shape out_shape = output_shape(chw);
  const int64_t C = chw[0], H = chw[1], W = chw[2], S = o_.size, P = o_.padding;
  const int64_t top = random_index(gen, H + 2 * P - S + 1) - P;  // offset of the window in the unpadded image
  const int64_t left = random_index(gen, W + 2 * P - S + 1) - P;
  std::vector<float> out(C * S * S, 0.f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < S; ++y) {
      const int64_t sy = y + top;
      if (sy < 0 || sy >= H) continue;
      for (int64_t x = 0; x < S; ++x) {
        const int64_t sx = x + left;
        if (sx >= 0 && sx < W) out[(c * S + y) * S + x] = buf[(c * H + sy) * W + sx];
      }
    }
  buf.swap(out);
  chw = out_shape;
}

HorizontalFlip::HorizontalFlip(HorizontalFlipOptions o) : o_(o) {
  NF_CHECK(o_.p >= 0 && o_.p <= 1, "hflip: p must be in [0, 1], got " + std::to_string(o_.p));
}

void HorizontalFlip::apply(std::vector<float>& buf, Shape& chw, Generator& gen) const {
  check_chw(chw, "hflip");
  if (!(random_unit(gen) < o_.p)) return;
  const int64_t rows = chw[0] * chw[1], W = chw[2];
  for (int64_t r = 0; r < rows; ++r) std::reverse(buf.begin() + r * W, buf.begin() + (r + 1) * W);
}

Normalize::Normalize(NormalizeOptions o) : o_(std::move(o)) {
  NF_CHECK(!o_.mean.empty() && o_.mean.size() == o_.std.size(),
           "normalize: mean and std need one value per channel, got " + std::to_string(o_.mean.size()) + " and " +
               std::to_string(o_.std.size()));
  for (float s : o_.std) NF_CHECK(s > 0, "normalize: std values must be > 0, got " + std::to_string(s));
}

Shape Normalize::output_shape(const Shape& chw) const {
  check_chw(chw, "normalize");
  NF_CHECK(static_cast<int64_t>(o_.mean.size()) == chw[0],
           "normalize: " + std::to_string(o_.mean.size()) + " mean/std values for images with " +
               std::to_string(chw[0]) + " channels");
  return chw;
}

void Normalize::apply(std::vector<float>& buf, Shape& chw, Generator&) const {
  output_shape(chw);
  const int64_t plane = chw[1] * chw[2];
  for (int64_t c = 0; c < chw[0]; ++c) {
    const float m = o_.mean[c], s = o_.std[c];
    for (float* p = buf.data() + c * plane; p != buf.data() + (c + 1) * plane; ++p) *p = (*p - m) / s;
  }
}

Cutout::Cutout(CutoutOptions o) : o_(o) {
  NF_CHECK(o_.size > 0, "cutout: size must be > 0, got " + std::to_string(o_.size));
}

void Cutout::apply(std::vector<float>& buf, Shape& chw, Generator& gen) const {
  check_chw(chw, "cutout");
  const int64_t C = chw[0], H = chw[1], W = chw[2], half = o_.size / 2;
  const int64_t cy = random_index(gen, H), cx = random_index(gen, W);
  const int64_t y1 = std::clamp<int64_t>(cy - half, 0, H), y2 = std::clamp<int64_t>(cy + half, 0, H);
  const int64_t x1 = std::clamp<int64_t>(cx - half, 0, W), x2 = std::clamp<int64_t>(cx + half, 0, W);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = y1; y < y2; ++y) std::fill(buf.begin() + (c * H + y) * W + x1, buf.begin() + (c * H + y) * W + x2, 0.f);
}

Compose& Compose::add(std::shared_ptr<const Transform> t) {
  NF_CHECK(t != nullptr, "Compose::add: null transform");
  list_.push_back(std::move(t));
  return *this;
}

Shape Compose::output_shape(const Shape& chw) const {
  Shape s = chw;
  for (const auto& t : list_) s = t->output_shape(s);
  return s;
}

void Compose::apply(std::vector<float>& buf, Shape& chw, Generator& gen) const {
  for (const auto& t : list_) t->apply(buf, chw, gen);
}

}  // namespace nf::data
