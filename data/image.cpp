#include "data/image.h"

#ifdef NF_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace nf::data {

#ifdef NF_WITH_OPENCV

bool image_decoding_available() { return true; }

namespace {
// OpenCV logs each file it cannot decode ("[ WARN:0@1.2] ... imread_(...): can't read
// header", codec errors) on stderr: the nf::Error naming the file says it once, on one
// line. Silenced once, unless the user chose a level with OPENCV_LOG_LEVEL.
void quiet_opencv() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!std::getenv("OPENCV_LOG_LEVEL")) cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  });
}
}  // namespace

Tensor decode_image(const std::string& path, int64_t channels, int64_t height, int64_t width) {
  NF_CHECK(channels == 1 || channels == 3,
           "decode_image(" + path + "): channels must be 1 or 3, got " + std::to_string(channels));
  NF_CHECK(height >= 0 && width >= 0 && height <= (1 << 16) && width <= (1 << 16),
           "decode_image(" + path + "): size " + std::to_string(height) + "x" + std::to_string(width) +
               " outside [0, 65536]");
  NF_CHECK(std::filesystem::is_regular_file(path), "cannot read image " + path + ": no such file");
  quiet_opencv();
  cv::Mat img;
  int h = 0, w = 0;
  try {
    img = cv::imread(path, channels == 3 ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);
    NF_CHECK(!img.empty(), "cannot decode image " + path +
                               ": not a readable image (corrupt, truncated, empty or an unsupported format)");
    NF_CHECK(img.depth() == CV_8U && img.channels() == channels,
             "cannot decode image " + path + ": decoded to an unexpected pixel type");
    if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    h = height ? static_cast<int>(height) : img.rows;
    w = width ? static_cast<int>(width) : img.cols;
    if (h != img.rows || w != img.cols) cv::resize(img, img, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  } catch (const cv::Exception& e) {  // OpenCV's own one-line description, not its multi-line what()
    throw Error("cannot decode image " + path + ": " + e.err);
  }
  Tensor out = Tensor::empty({channels, h, w});
  float* dst = out.data<float>();
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = img.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x)
      for (int64_t c = 0; c < channels; ++c) dst[(c * h + y) * w + x] = row[x * channels + c] / 255.f;
  }
  return out;
}

void write_image(const std::string& path, const Tensor& chw) {
  NF_CHECK(chw.dim() == 3 && (chw.size(0) == 1 || chw.size(0) == 3) && chw.dtype() == DType::F32,
           "write_image(" + path + "): expected a [1|3, H, W] F32 tensor, got " + chw.str());
  const int c = static_cast<int>(chw.size(0)), h = static_cast<int>(chw.size(1)), w = static_cast<int>(chw.size(2));
  const std::vector<float> v = chw.to_vector();
  cv::Mat img(h, w, c == 3 ? CV_8UC3 : CV_8UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        const float f = std::clamp(v[(static_cast<size_t>(k) * h + y) * w + x], 0.f, 1.f);
        img.ptr<uint8_t>(y)[x * c + (c == 3 ? 2 - k : k)] = static_cast<uint8_t>(std::lround(f * 255.f));  // RGB->BGR
      }
  bool ok = false;
  try {
    ok = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    throw Error("cannot write image " + path + ": " + e.msg);
  }
  NF_CHECK(ok, "cannot write image " + path);
}

#else

bool image_decoding_available() { return false; }

Tensor decode_image(const std::string& path, int64_t, int64_t, int64_t) {
  throw Error("cannot decode image " + path + ": normforge was built without OpenCV (NF_WITH_OPENCV=OFF)");
}

void write_image(const std::string& path, const Tensor&) {
  throw Error("cannot write image " + path + ": normforge was built without OpenCV (NF_WITH_OPENCV=OFF)");
}

#endif

}  // namespace nf::data
