// Image files <-> CHW float tensors, through OpenCV (the only OpenCV user; built
// without it when NF_WITH_OPENCV is OFF, and then these functions throw).
//   decode_image: PNG/JPEG/... -> [C, H, W] F32 in [0,1], RGB channel order (C = 3)
//   or gray (C = 1); resized with bilinear interpolation when height/width are given
//   and differ (0 keeps the file's size).
//   write_image: [C, H, W] F32 in [0,1] (C = 1 or 3, RGB) -> file, format from the
//   extension; values are clamped and rounded to 8 bits.
#pragma once
#include <cstdint>
#include <string>

#include "framework/core/tensor.h"

namespace nf::data {

bool image_decoding_available();  // false when built without OpenCV

Tensor decode_image(const std::string& path, int64_t channels, int64_t height = 0, int64_t width = 0);
void write_image(const std::string& path, const Tensor& chw);

}  // namespace nf::data
