// The layer registry's table (see registry.h): one line per layer type, its entry
// defined beside the layer.
#include "layers/registry.h"

#include <map>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/group_norm.h"
#include "layers/instance_norm.h"
#include "layers/linear.h"
#include "layers/pooling.h"

namespace nf {

namespace {

const std::map<std::string, LayerType>& table() {
  static const std::map<std::string, LayerType> t = {
      {"conv", conv_layer_type()},
      {"linear", linear_layer_type()},
      {"batch_norm", batch_norm_layer_type()},
      {"group_norm", group_norm_layer_type()},
      {"layer_norm", layer_norm_layer_type()},
      {"instance_norm", instance_norm_layer_type()},
      {"relu", relu_layer_type()},
      {"dropout", dropout_layer_type()},
      {"max_pool", max_pool_layer_type()},
      {"avg_pool", avg_pool_layer_type()},
      {"global_avg_pool", global_avg_pool_layer_type()},
      {"flatten", flatten_layer_type()},
  };
  return t;
}

}  // namespace

const LayerType* find_layer_type(const std::string& name) {
  auto it = table().find(name);
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> layer_type_names() {
  std::vector<std::string> names;
  for (const auto& [n, t] : table()) names.push_back(n);
  return names;
}

void layer_error(const LayerSpec& l, const std::string& problem) { throw Error(l.where + ": " + problem); }

std::string per_sample(const Shape& s) {
  std::string out = "[N";
  for (int64_t d : s) out += ", " + std::to_string(d);
  return out + "]";
}

void need_image(const LayerSpec& l, const Shape& in) {
  if (in.size() != 3) layer_error(l, "takes images [N, C, H, W], got " + per_sample(in));
}

int64_t window_out(const LayerSpec& l, const Shape& in, int64_t extent, int64_t stride, int64_t pad) {
  for (int d : {1, 2})
    if (in[d] + 2 * pad < extent)
      layer_error(l, "its " + std::to_string(extent) + "x" + std::to_string(extent) + " window is larger than its input " +
                         per_sample(in) + " padded by " + std::to_string(pad));
  return (in[1] + 2 * pad - extent) / stride + 1;
}

}  // namespace nf
