// A network written as a list (a recipe's model.layers): each entry parsed and checked
// against the layer registry's argument schema (layers/registry.h) by the recipe
// reader, `repeat` already written out; build_layers (models/layer_registry.h) turns
// the list into modules.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nf {

// One argument of a layer type: its kind, default and range.
struct ArgSpec {
  enum Kind { Int, Float, Bool };
  std::string key;
  Kind kind;
  std::optional<double> def;  // nullopt: required, unless nullable (then null by default)
  double min = 0, max = 0;
  bool nullable = false;
};

struct LayerSpec {
  std::string type;   // a registry name ("conv", "batch_norm", ...) or "residual"
  std::string name;   // the entry's `name:`; empty: its index
  std::string where;  // "FILE:LINE:COL: model.layers[3] (conv)", the prefix of build errors
  std::map<std::string, std::optional<double>> args;  // every argument of the type; nullopt = null
  std::vector<LayerSpec> body, shortcut;             // residual only

  int64_t i(const std::string& key) const { return static_cast<int64_t>(*args.at(key)); }
  double f(const std::string& key) const { return *args.at(key); }
  bool b(const std::string& key) const { return *args.at(key) != 0; }
  std::optional<double> opt(const std::string& key) const { return args.at(key); }
};

}  // namespace nf
