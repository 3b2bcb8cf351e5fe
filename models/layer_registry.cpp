// The layer registry (see layer_registry.h): per layer, its schema and a factory that
// checks the input shape, builds the module and infers the output shape.
#include "models/layer_registry.h"

#include <map>

#include "layers/activation.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/group_norm.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/residual.h"

namespace nf {

namespace {

constexpr double kBig = 1 << 20;

[[noreturn]] void fail(const LayerSpec& l, const std::string& problem) { throw Error(l.where + ": " + problem); }

std::string per_sample(const Shape& s) {
  std::string out = "[N";
  for (int64_t d : s) out += ", " + std::to_string(d);
  return out + "]";
}

void need_image(const LayerSpec& l, const Shape& in) {
  if (in.size() != 3) fail(l, "takes images [N, C, H, W], got " + per_sample(in));
}

// Output side of a window of `extent` (dilated kernel) sliding over side + 2 * pad.
int64_t window_out(const LayerSpec& l, const Shape& in, int64_t extent, int64_t stride, int64_t pad) {
  for (int d : {1, 2})
    if (in[d] + 2 * pad < extent)
      fail(l, "its " + std::to_string(extent) + "x" + std::to_string(extent) + " window is larger than its input " +
                  per_sample(in) + " padded by " + std::to_string(pad));
  return (in[1] + 2 * pad - extent) / stride + 1;
}

ModulePtr make_conv(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  const int64_t o = l.i("out"), k = l.i("kernel"), s = l.i("stride"), p = l.i("padding"), d = l.i("dilation"),
                g = l.i("groups");
  if (in[0] % g || o % g)
    fail(l, "groups " + std::to_string(g) + " must divide both the input channels of " + per_sample(in) +
                " and out " + std::to_string(o));
  const int64_t extent = d * (k - 1) + 1, oh = window_out(l, in, extent, s, p);
  out = {o, oh, (in[2] + 2 * p - extent) / s + 1};
  return std::make_shared<Conv2d>(in[0], o, k, Conv2dOptions{s, p, d, g, l.b("bias")});
}

ModulePtr make_linear(const LayerSpec& l, const Shape& in, Shape& out) {
  if (in.size() != 1) fail(l, "takes [N, F], got " + per_sample(in) + " (put flatten or global_avg_pool before it)");
  out = {l.i("out")};
  return std::make_shared<Linear>(in[0], l.i("out"), l.b("bias"));
}

ModulePtr make_batch_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  BatchNormOptions o;
  o.eps = l.f("eps");
  o.momentum = l.opt("momentum");
  o.affine = l.b("affine");
  o.track_running_stats = l.b("track_running_stats");
  if (auto v = l.opt("virtual_batch")) o.virtual_batch = static_cast<int64_t>(*v);
  o.sync = l.b("sync");
  if (o.sync && o.virtual_batch) fail(l, "sync and virtual_batch exclude each other (ghost batches are per rank)");
  out = in;
  if (in.size() == 3) return std::make_shared<BatchNorm2d>(in[0], o);
  if (in.size() == 1) return std::make_shared<BatchNorm1d>(in[0], o);
  fail(l, "takes [N, C, H, W] or [N, F], got " + per_sample(in));
}

ModulePtr make_group_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  if (in.size() != 3 && in.size() != 1) fail(l, "takes [N, C, H, W] or [N, C], got " + per_sample(in));
  const int64_t g = l.i("groups");
  if (in[0] % g) fail(l, std::to_string(g) + " groups do not divide the " + std::to_string(in[0]) + " channels of " + per_sample(in));
  out = in;
  return std::make_shared<GroupNorm>(g, in[0], l.f("eps"), l.b("affine"));
}

ModulePtr make_layer_norm(const LayerSpec& l, const Shape& in, Shape& out) {
  out = in;
  if (in.size() == 3) return std::make_shared<GroupNorm>(1, in[0], l.f("eps"));
  if (in.size() == 1) return std::make_shared<LayerNorm>(in[0], l.f("eps"));
  fail(l, "takes [N, C, H, W] or [N, F], got " + per_sample(in));
}

template <class Pool>
ModulePtr make_pool(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  const int64_t k = l.i("kernel"), p = l.i("padding");
  const int64_t s = l.opt("stride") ? l.i("stride") : k;
  if (2 * p > k) fail(l, "padding " + std::to_string(p) + " is more than half the kernel " + std::to_string(k));
  const int64_t oh = window_out(l, in, k, s, p);
  out = {in[0], oh, (in[2] + 2 * p - k) / s + 1};
  return std::make_shared<Pool>(k, s, p);
}

ModulePtr make_global_avg_pool(const LayerSpec& l, const Shape& in, Shape& out) {
  need_image(l, in);
  out = {in[0], 1, 1};
  return std::make_shared<AdaptiveAvgPool2d>(1, 1);
}

ModulePtr make_flatten(const LayerSpec&, const Shape& in, Shape& out) {
  out = {shape_numel(in)};
  return std::make_shared<Flatten>(1);
}

ModulePtr make_relu(const LayerSpec&, const Shape& in, Shape& out) {
  out = in;
  return std::make_shared<ReLU>();
}

ModulePtr make_dropout(const LayerSpec& l, const Shape& in, Shape& out) {
  out = in;
  return std::make_shared<Dropout>(l.f("p"));
}

struct LayerType {
  std::vector<ArgSpec> args;
  ModulePtr (*build)(const LayerSpec&, const Shape& in, Shape& out);
};

const std::map<std::string, LayerType>& registry() {
  using A = ArgSpec;
  const A eps{"eps", A::Float, 1e-5, 1e-12, 1.0}, affine{"affine", A::Bool, 1.0}, bias{"bias", A::Bool, 1.0};
  const A out{"out", A::Int, std::nullopt, 1, kBig}, kernel{"kernel", A::Int, std::nullopt, 1, 1024};
  const std::vector<A> pool = {kernel, {"stride", A::Int, std::nullopt, 1, 1024, true}, {"padding", A::Int, 0.0, 0, 1024}};
  static const std::map<std::string, LayerType> r = {
      {"conv",
       {{out, kernel, {"stride", A::Int, 1.0, 1, 1024}, {"padding", A::Int, 0.0, 0, 1024},
         {"dilation", A::Int, 1.0, 1, 1024}, {"groups", A::Int, 1.0, 1, kBig}, bias},
        make_conv}},
      {"linear", {{out, bias}, make_linear}},
      {"batch_norm",
       {{{"momentum", A::Float, 0.1, 0, 1, true}, eps, affine, {"track_running_stats", A::Bool, 1.0},
         {"virtual_batch", A::Int, std::nullopt, 2, kBig, true}, {"sync", A::Bool, 0.0}},
        make_batch_norm}},
      {"group_norm", {{{"groups", A::Int, std::nullopt, 1, kBig}, eps, affine}, make_group_norm}},
      {"layer_norm", {{eps}, make_layer_norm}},
      {"relu", {{}, make_relu}},
      {"dropout", {{{"p", A::Float, 0.5, 0, 0.999}}, make_dropout}},
      {"max_pool", {pool, make_pool<MaxPool2d>}},
      {"avg_pool", {pool, make_pool<AvgPool2d>}},
      {"global_avg_pool", {{}, make_global_avg_pool}},
      {"flatten", {{}, make_flatten}},
  };
  return r;
}

ModulePtr build_layer(const LayerSpec& l, Shape& shape);

// The list as a Sequential; `shape` goes from the list's input to its output.
std::shared_ptr<Sequential> build_list(const std::vector<LayerSpec>& layers, Shape& shape) {
  auto seq = std::make_shared<Sequential>();
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::string name = l.name.empty() ? std::to_string(i) : l.name;
    for (const auto& [n, c] : seq->children())
      if (n == name) fail(l, "the name '" + name + "' is already taken in this list");
    seq->push_back(name, build_layer(l, shape));
  }
  return seq;
}

ModulePtr build_layer(const LayerSpec& l, Shape& shape) {
  if (l.type == "residual") {
    Shape body_shape = shape, shortcut_shape = shape;
    auto body = build_list(l.body, body_shape);
    auto shortcut = build_list(l.shortcut, shortcut_shape);
    if (body_shape != shortcut_shape)
      fail(l, "its body gives " + per_sample(body_shape) + " but its shortcut gives " + per_sample(shortcut_shape) +
                  (l.shortcut.empty() ? " (the identity; give it a shortcut that changes the shape)" : ""));
    shape = body_shape;
    return std::make_shared<Residual>(body, shortcut);
  }
  Shape out;
  ModulePtr m = registry().at(l.type).build(l, shape, out);
  shape = out;
  return m;
}

}  // namespace

std::vector<std::string> layer_names() {
  std::vector<std::string> names;
  for (const auto& [n, t] : registry()) names.push_back(n);
  names.push_back("residual");
  names.push_back("repeat");
  return names;
}

std::optional<std::vector<ArgSpec>> layer_arguments(const std::string& type, const BatchNormOptions& bn) {
  auto it = registry().find(type);
  if (it == registry().end()) return std::nullopt;
  std::vector<ArgSpec> args = it->second.args;
  if (type == "batch_norm")
    for (ArgSpec& a : args) {
      if (a.key == "momentum") a.def = bn.momentum;
      if (a.key == "eps") a.def = bn.eps;
      if (a.key == "sync") a.def = bn.sync ? 1.0 : 0.0;
    }
  return args;
}

std::shared_ptr<Sequential> build_layers(const std::vector<LayerSpec>& layers, Shape& shape) {
  return build_list(layers, shape);
}

}  // namespace nf
