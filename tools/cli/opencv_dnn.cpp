#include "tools/cli/opencv_dnn.h"

#ifdef NF_WITH_OPENCV
#include <opencv2/dnn.hpp>
#endif

namespace nf {

#ifdef NF_WITH_OPENCV
namespace {
// OpenCV's exception text spans lines ("OpenCV(4.6.0) file:line: error: (-2:...) ..."):
// its message alone, on one line.
std::string one_line(const cv::Exception& e) {
  std::string s = e.err.empty() ? e.what() : e.err;
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}
}  // namespace

struct OpenCvNet::Impl {
  cv::dnn::Net net;
};

OpenCvNet::OpenCvNet(const std::string& onnx_path) : impl_(std::make_unique<Impl>()), path_(onnx_path) {
  try {
    impl_->net = cv::dnn::readNetFromONNX(onnx_path);
  } catch (const cv::Exception& e) {
    throw Error(onnx_path + ": OpenCV's dnn cannot import it: " + one_line(e));
  }
  NF_CHECK(!impl_->net.empty(), onnx_path + ": OpenCV's dnn imported an empty network");
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

OpenCvNet::~OpenCvNet() = default;

std::vector<float> OpenCvNet::forward(const std::vector<float>& chw_values, const Shape& chw) {
  std::vector<int> dims{1};
  for (int64_t d : chw) dims.push_back(static_cast<int>(d));
  cv::Mat blob(static_cast<int>(dims.size()), dims.data(), CV_32F, const_cast<float*>(chw_values.data()));
  try {
    impl_->net.setInput(blob, "input");
    cv::Mat out = impl_->net.forward("logits");
    return std::vector<float>(out.ptr<float>(), out.ptr<float>() + out.total());
  } catch (const cv::Exception& e) {
    throw Error(path_ + ": OpenCV's dnn failed on a " + shape_str(chw) + " input: " + one_line(e));
  }
}

#else
struct OpenCvNet::Impl {};
OpenCvNet::OpenCvNet(const std::string& onnx_path) : path_(onnx_path) {
  throw Error(onnx_path + ": normforge was built without OpenCV (NF_WITH_OPENCV=OFF), which runs ONNX files");
}
OpenCvNet::~OpenCvNet() = default;
std::vector<float> OpenCvNet::forward(const std::vector<float>&, const Shape&) { return {}; }
#endif

}  // namespace nf
