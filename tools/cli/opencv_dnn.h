// An ONNX file run by OpenCV's dnn module (`normforge predict --onnx`): the deployment
// runtime's view of an exported model. OpenCV stays inside opencv_dnn.cpp; a build with
// NF_WITH_OPENCV=OFF throws a clear error instead.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace nf {

class OpenCvNet {
 public:
  // cv::dnn::readNetFromONNX on the CPU backend; an nf::Error (one line) when OpenCV
  // cannot import the file.
  explicit OpenCvNet(const std::string& onnx_path);
  ~OpenCvNet();
  // One preprocessed image, chw [C, H, W] values in CHW order -> its logits.
  std::vector<float> forward(const std::vector<float>& chw_values, const Shape& chw);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace nf
