// The layer registry: every layer type a recipe's model.layers may name, as Caffe's
// layer registry. An entry is the type's argument schema and its factory (which checks
// the input shape, builds the module and infers the output shape). Each entry is
// defined beside its layer (e.g. conv_layer_type() in layers/conv2d.cpp) and listed
// once in registry.cpp's table; the module the factory builds answers the rest
// (Module::macs, Module::to_onnx, Module::fusion_role). `residual` and `repeat` are
// structure, handled by the recipe reader and models/layer_registry.h.
// Shapes here are per sample (no batch dimension): [C, H, W], [C, L] or [F].
#pragma once
#include <string>
#include <vector>

#include "layers/layer_spec.h"
#include "layers/module.h"

namespace nf {

struct LayerType {
  std::vector<ArgSpec> args;
  // Builds the layer `spec` for inputs [N, in...]; sets `out` to its output's shape. An
  // input it cannot take is a layer_error.
  ModulePtr (*build)(const LayerSpec& spec, const Shape& in, Shape& out);
};

const LayerType* find_layer_type(const std::string& name);  // nullptr: no such type
std::vector<std::string> layer_type_names();               // sorted

// --- for the factories --------------------------------------------------------------
// nf::Error "WHERE: problem" (WHERE: the entry's recipe file, line and path).
[[noreturn]] void layer_error(const LayerSpec& l, const std::string& problem);
std::string per_sample(const Shape& s);  // "[N, 16, 32, 32]"
void need_image(const LayerSpec& l, const Shape& in);  // in is [C, H, W]
// Output side of a square window of `extent` (the dilated kernel) sliding with `stride`
// over an image's sides padded by `pad`; the window must fit.
int64_t window_out(const LayerSpec& l, const Shape& in, int64_t extent, int64_t stride, int64_t pad);

// Arguments several layer types take.
namespace layer_args {
constexpr double kBig = 1 << 20;
inline const ArgSpec eps{"eps", ArgSpec::Float, 1e-5, 1e-12, 1.0};
inline const ArgSpec affine{"affine", ArgSpec::Bool, 1.0};
inline const ArgSpec bias{"bias", ArgSpec::Bool, 1.0};
inline const ArgSpec out{"out", ArgSpec::Int, std::nullopt, 1, kBig};
inline const ArgSpec kernel{"kernel", ArgSpec::Int, std::nullopt, 1, 1024};
}  // namespace layer_args

}  // namespace nf
