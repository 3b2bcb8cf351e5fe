// `normforge predict` (see commands.h): a checkpoint, or an ONNX export run by OpenCV's dnn.
#include "tools/cli/commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "framework/autograd/autograd.h"
#include "framework/core/random.h"
#include "tools/cli/export.h"
#include "tools/cli/onnx_export.h"
#include "tools/cli/opencv_dnn.h"
#include "tools/train/factories.h"
#include "tools/train/model_setup.h"

namespace nf {

void run_predict(const Recipe& r, const PredictSource& source, const std::vector<std::string>& images,
                 int64_t topk) {
  const Placement where = configure_runtime(r);
  // The logits of one preprocessed image [C, H, W]: normforge's model, or the ONNX
  // file run by OpenCV's dnn (after checking it is a normforge export made for this
  // recipe's preprocessing; its class names are the file's).
  std::function<std::vector<float>(const std::vector<float>&, const Shape&)> logits_of;
  std::vector<std::string> file_names;
  ModulePtr model;
  std::shared_ptr<OpenCvNet> net;
  if (!source.onnx.empty()) {
    const auto meta = onnx_metadata(source.onnx);
    NF_CHECK(meta.count("normforge.classes"), source.onnx + ": not a normforge export (no normforge.* metadata; "
                                                            "make one with `normforge export --format onnx`)");
    // The images are prepared as the recipe says: it must be what the file was made for.
    for (const auto& [key, value] : deploy_normalization(r))
      NF_CHECK(meta.count(key) && meta.at(key) == value, source.onnx + ": exported for " + key.substr(10) + " " +
                                                              (meta.count(key) ? meta.at(key) : "?") +
                                                              " but the recipe normalizes with " + value);
    try {
      for (const auto& c : nlohmann::json::parse(meta.at("normforge.classes"))) file_names.push_back(c.get<std::string>());
    } catch (const std::exception&) {
      throw Error(source.onnx + ": normforge.classes is not a JSON list of names");
    }
    net = std::make_shared<OpenCvNet>(source.onnx);
    logits_of = [net](const std::vector<float>& buf, const Shape& s) { return net->forward(buf, s); };
  } else {
    model = build_recipe_model(r, where, false);
    load_weights(*model, source.checkpoint);
    model->eval();
    logits_of = [&](const std::vector<float>& buf, const Shape& s) {
      NoGradGuard no_grad;
      return (*model)(place(Tensor::from_vector(buf, {1, s[0], s[1], s[2]}), where)).to_vector();
    };
  }
  std::vector<std::string> names = file_names;
  if (names.empty()) try {  // class names from the dataset files when they are at hand
      names = open_recipe_dataset(r, "test")->class_names();
    } catch (const Error&) {
    }
  const Shape chw = recipe_input_shape(r);
  for (const std::string& path : images) {
    Tensor img = data::decode_image(path, chw[0], chw[1], chw[2]);
    std::vector<float> buf = img.to_vector();
    Shape s = chw;
    Generator gen(r.seed);
    r.data.test_transforms.apply(buf, s, gen);
    const std::vector<float> logits = logits_of(buf, s);
    const float mx = *std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (float l : logits) z += std::exp(double(l) - mx);
    std::vector<int64_t> idx(logits.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    const int64_t k = std::min<int64_t>(topk, static_cast<int64_t>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
    std::printf("%s\n", path.c_str());
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = idx[i];
      const std::string name = c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c);
      std::printf("  %2lld. %-16s %6.2f%%\n", (long long)i + 1, name.c_str(), 100 * std::exp(double(logits[c]) - mx) / z);
    }
  }
}

}  // namespace nf
