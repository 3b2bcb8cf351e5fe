// Fuzz target: image decoding (data/image.h decode_image, through OpenCV's decoders)
// and image folders (data/image_folder.h). Input: a mode byte (bit 0: gray, else RGB;
// bit 1: resize to H x W; bit 2: as the first file of an image folder, beside one valid
// image; bit 3: with skip_bad_images), H-1 and W-1 bytes (mod 40), then the file.
// Run tools/scripts/fuzz.sh with OPENCV_IO_MAX_IMAGE_PIXELS small (it sets it), so a header
// claiming a huge image is refused by OpenCV instead of tripping the malloc limit.
#include <spdlog/spdlog.h>

#include <vector>

#include "data/image.h"
#include "data/image_folder.h"
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void check_pixels(const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) nf_fuzz::require(p[i] >= 0.f && p[i] <= 1.f, "image: pixel outside [0, 1]");
}

void decode(const std::string& path, int64_t channels, int64_t h, int64_t w) {
  nf::Tensor t;
  try {
    t = nf::data::decode_image(path, channels, h, w);
  } catch (const nf::Error&) {
    return;
  }
  nf_fuzz::require(t.dim() == 3 && t.size(0) == channels && t.size(1) > 0 && t.size(2) > 0, "image: decoded shape");
  nf_fuzz::require((h == 0 || t.size(1) == h) && (w == 0 || t.size(2) == w), "image: resized shape");
  check_pixels(t.data<float>(), static_cast<size_t>(t.numel()));
}

void folder(std::string_view bytes, int64_t channels, int64_t h, int64_t w, bool skip) {
  const auto root = nf_fuzz::fresh_dir("image_folder");
  std::filesystem::create_directories(root / "train/a");
  std::filesystem::create_directories(root / "train/b");
  nf_fuzz::write_file(root / "train/a/x.png", bytes);
  nf_fuzz::write_file(root / "train/b/ok.pgm", std::string_view("P5\n3 2\n255\n\x00\x10\x20\x30\x40\xff", 17));
  nf::data::ImageFolderOptions o;
  o.channels = channels;
  o.height = h;
  o.width = w;
  o.skip_bad_images = skip;
  try {
    nf::data::ImageFolder ds(root.string(), "train", o);
    nf_fuzz::require(ds.size() == 1 || ds.size() == 2, "image_folder: size");
    std::vector<float> chw(ds.sample_numel());
    for (int64_t i = 0; i < ds.size(); ++i) {
      int64_t label = -1;
      try {
        ds.get(i, chw.data(), &label);
      } catch (const nf::Error&) {
        nf_fuzz::require(!skip, "image_folder: a file kept by skip_bad_images does not decode");
        continue;
      }
      nf_fuzz::require(label == ds.label(i) && label >= 0 && label < 2, "image_folder: label");
      check_pixels(chw.data(), chw.size());
    }
  } catch (const nf::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::err);  // skip_bad_images warns on every bad input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0];
  const int64_t channels = (mode & 1) ? 1 : 3;
  const int64_t h = (mode & 2) ? data[1] % 40 + 1 : 0, w = (mode & 2) ? data[2] % 40 + 1 : 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 3), size - 3);
  if (mode & 4) {
    folder(bytes, channels, h, w, mode & 8);
  } else {
    const auto dir = nf_fuzz::fresh_dir("image");
    nf_fuzz::write_file(dir / "x.img", bytes);
    decode((dir / "x.img").string(), channels, h, w);
  }
  return 0;
}
