#include "tools/recipe/recipe_layers.h"

#include "framework/core/error.h"
#include "models/layer_registry.h"

namespace nf {

namespace {

class LayerReader {
 public:
  LayerReader(const ModelSpec& spec, const YamlSection& model) : spec_(spec), model_(model) {}

  // Appends the entries of `list` (a YAML sequence at `path`) to `out`.
  void read_list(const YAML::Node& list, const std::string& path, std::vector<LayerSpec>& out) const {
    // Bounds: an alias can make a list contain itself, and nested repeats multiply.
    if (++depth_ > kMaxDepth)
      fail(list, path, "layer lists nested more than " + std::to_string(kMaxDepth) + " deep (an alias that contains itself?)");
    for (size_t i = 0; i < list.size(); ++i) read_entry(list[i], path + "[" + std::to_string(i) + "]", out);
    --depth_;
  }

 private:
  [[noreturn]] void fail(const YAML::Node& n, const std::string& what, const std::string& problem) const {
    model_.fail_at(n, what, problem);
  }

  void read_entry(const YAML::Node& item, const std::string& path, std::vector<LayerSpec>& out) const {
    if (++entries_ > kMaxEntries)
      fail(item, path, "more than " + std::to_string(kMaxEntries) + " layers once every repeat is written out");
    const char* shape_hint = "expected a layer: a name such as relu, or {conv: {out: 16, kernel: 3}}";
    LayerSpec l;
    YAML::Node args;
    if (item.IsScalar()) {
      l.type = item.Scalar();
    } else if (item.IsMap()) {
      for (const auto& kv : item) {
        const std::string key = kv.first.Scalar();
        if (key == "name") {
          if (!kv.second.IsScalar() || kv.second.Scalar().empty() || kv.second.Scalar().find('.') != std::string::npos)
            fail(kv.second, path + ".name", "expected a name without dots");
          l.name = kv.second.Scalar();
        } else {
          if (!l.type.empty()) fail(kv.first, path, "one layer per entry, got '" + l.type + "' and '" + key + "'");
          l.type = key;
          args = kv.second;
        }
      }
      if (l.type.empty()) fail(item, path, shape_hint);
    } else {
      fail(item, path, shape_hint);
    }
    const std::vector<std::string> names = layer_names();
    if (std::find(names.begin(), names.end(), l.type) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : " | ") + n;
      fail(item, path, "unknown layer '" + l.type + "'" + did_you_mean(l.type, names) + " (known: " + known + ")");
    }
    const std::string what = path + "." + l.type;
    if (args.IsDefined() && !args.IsNull() && !args.IsMap())
      fail(args, what, "arguments must be a map such as {p: 0.5}");
    l.where = yaml_location(model_.origin()->file, item) + ": " + path + " (" + l.type + ")";
    YamlSection a(args, what, model_.origin());
    if (l.type == "repeat") {
      if (!l.name.empty()) fail(item, path, "a repeat has no name of its own (name its layers)");
      if (!a.has("times")) a.fail("times", "required: how many times to write out `layers`");
      const int64_t times = a.get_int("times", 1, 1, 1 << 16);
      YAML::Node inner = a.list("layers");
      a.finish();
      for (int64_t t = 0; t < times; ++t) read_list(inner, what + ".layers", out);
      return;
    }
    if (l.type == "residual") {
      if (!a.has("body")) a.fail("body", "required: the list of layers on the residual branch");
      YAML::Node body = a.list("body"), shortcut = a.list("shortcut");
      a.finish();
      read_list(body, what + ".body", l.body);
      read_list(shortcut, what + ".shortcut", l.shortcut);
      if (l.body.empty()) a.fail("body", "the body must have at least one layer");
    } else {
      // Unknown keys first (a misspelt required argument gets "did you mean"), then missing ones.
      const std::vector<ArgSpec> schema = *layer_arguments(l.type, spec_.bn);
      const ArgSpec* missing = nullptr;
      for (const ArgSpec& s : schema) {
        if (!s.def && !s.nullable && !a.has(s.key)) missing = missing ? missing : &s;
        else l.args[s.key] = read_arg(a, s);
      }
      a.finish(missing ? std::vector<std::string>{missing->key} : std::vector<std::string>{});
      if (missing) a.fail(missing->key, "required (" + l.type + " needs " + missing->key + ")");
    }
    out.push_back(std::move(l));
  }

  std::optional<double> read_arg(YamlSection& a, const ArgSpec& s) const {
    if (s.key == "out" && a.peek_scalar("out") == std::optional<std::string>("classes")) {
      a.get_string("out", "");
      return static_cast<double>(spec_.num_classes);
    }
    const auto min = static_cast<int64_t>(s.min), max = static_cast<int64_t>(s.max);
    switch (s.kind) {
      case ArgSpec::Int:
        if (s.nullable) {
          auto v = a.get_optional_int(s.key, s.def ? std::optional<int64_t>(*s.def) : std::nullopt, min, max);
          return v ? std::optional<double>(*v) : std::nullopt;
        }
        return static_cast<double>(a.get_int(s.key, static_cast<int64_t>(s.def.value_or(0)), min, max));
      case ArgSpec::Float:
        if (s.nullable) return a.get_optional_float(s.key, s.def, s.min, s.max);
        return a.get_float(s.key, s.def.value_or(0), s.min, s.max);
      case ArgSpec::Bool:
        return a.get_bool(s.key, s.def.value_or(0) != 0) ? 1.0 : 0.0;
    }
    return std::nullopt;
  }

  static constexpr int kMaxDepth = 100;
  static constexpr int64_t kMaxEntries = 20000;
  const ModelSpec& spec_;
  const YamlSection& model_;  // the model section: file and overrides, fail_at
  mutable int depth_ = 0;
  mutable int64_t entries_ = 0;
};

}  // namespace

std::vector<LayerSpec> parse_layers(YamlSection& model, const ModelSpec& spec) {
  std::vector<LayerSpec> out;
  YAML::Node list = model.list("layers");
  LayerReader(spec, model).read_list(list, model.key_path("layers"), out);
  if (out.empty()) model.fail("layers", "the list has no layers");
  return out;
}

}  // namespace nf
