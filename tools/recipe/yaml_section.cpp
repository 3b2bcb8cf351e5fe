#include "tools/recipe/yaml_section.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "framework/core/error.h"

namespace nf {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// A value as an error message shows it: a scalar's text (shortened, on one line), else
// what it is. Not YAML::Dump, which writes a map or list over several lines, in full.
std::string describe(const YAML::Node& n) {
  if (n.IsScalar()) {
    std::string s = n.Scalar();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    for (char& c : s)
      if (c == '\n' || c == '\r') c = ' ';
    return "'" + s + "'";
  }
  return n.IsSequence() ? "a list" : n.IsMap() ? "a map" : "null";
}

std::string mark_str(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

}  // namespace

std::string yaml_location(const std::string& file, const YAML::Node& n) { return mark_str(file, n.Mark()); }

std::string did_you_mean(const std::string& word, const std::vector<std::string>& known, const std::string& prefix) {
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = edit_distance(word, k);
    if (d < best_d) best_d = d, best = k;
  }
  return best.empty() ? "" : " (did you mean '" + prefix + best + "'?)";
}

bool YamlSection::has(const std::string& key) const {
  YAML::Node v = node_[key];
  return v.IsDefined() && !v.IsNull();
}

std::optional<std::string> YamlSection::peek_scalar(const std::string& key) const {
  YAML::Node v = node_[key];
  if (!v.IsDefined() || !v.IsScalar()) return std::nullopt;
  return v.Scalar();
}

YamlSection::YamlSection(YAML::Node node, std::string path, std::shared_ptr<const RecipeOrigin> origin)
    : node_(node), path_(std::move(path)), origin_(std::move(origin)) {
  if (!node_.IsDefined() || node_.IsNull()) node_ = YAML::Node(YAML::NodeType::Map);
}

std::string YamlSection::where(const std::string& key) const {
  const std::string kp = key_path(key);
  // An override of this key, or of a section containing it, is where the value came from.
  for (std::string p = kp;; p = p.substr(0, p.rfind('.'))) {
    auto it = origin_->overrides.find(p);
    if (it != origin_->overrides.end()) return it->second;
    if (p.find('.') == std::string::npos) break;
  }
  YAML::Node v = node_[key];
  return mark_str(origin_->file, v.IsDefined() ? v.Mark() : node_.Mark());
}

void YamlSection::fail(const std::string& key, const std::string& problem) const {
  throw Error(where(key) + ": " + key_path(key) + ": " + problem);
}

void YamlSection::fail_at(const YAML::Node& n, const std::string& what, const std::string& problem) const {
  throw Error(mark_str(origin_->file, n.Mark()) + ": " + what + ": " + problem);
}

YAML::Node YamlSection::value(const std::string& key) {
  read_.insert(key);
  return node_[key];
}

int64_t YamlSection::get_int(const std::string& key, int64_t def, int64_t min, int64_t max) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  int64_t x;
  if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, x)) fail(key, "expected an integer, got " + describe(v));
  if (x < min || x > max)
    fail(key, std::to_string(x) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return x;
}

double YamlSection::get_float(const std::string& key, double def, double min, double max) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  double x;
  if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x))
    fail(key, "expected a number, got " + describe(v));
  if (x < min || x > max) {
    std::ostringstream os;
    os << x << " is out of range [" << min << ", " << max << "]";
    fail(key, os.str());
  }
  return x;
}

bool YamlSection::get_bool(const std::string& key, bool def) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  bool x;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, x)) fail(key, "expected true or false, got " + describe(v));
  return x;
}

std::string YamlSection::get_string(const std::string& key, const std::string& def) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  if (!v.IsScalar()) fail(key, "expected a string");
  return v.Scalar();
}

std::string YamlSection::get_choice(const std::string& key, const std::string& def,
                                    const std::vector<std::string>& choices) {
  std::string s = get_string(key, def);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string list;
    for (auto& c : choices) list += (list.empty() ? "" : " | ") + c;
    fail(key, "'" + s + "' is not one of " + list);
  }
  return s;
}

bool YamlSection::take_null(const std::string& key, bool has_default) {
  YAML::Node v = node_[key];
  const bool null = v.IsDefined() ? v.IsNull() : !has_default;
  if (!null) return false;
  read_.insert(key);
  if (!v.IsDefined()) node_[key] = YAML::Node(YAML::NodeType::Null);
  return true;
}

std::optional<double> YamlSection::get_optional_float(const std::string& key, std::optional<double> def, double min,
                                                      double max) {
  if (take_null(key, def.has_value())) return std::nullopt;
  return get_float(key, def.value_or(0), min, max);
}

std::optional<int64_t> YamlSection::get_optional_int(const std::string& key, std::optional<int64_t> def, int64_t min,
                                                     int64_t max) {
  if (take_null(key, def.has_value())) return std::nullopt;
  return get_int(key, def.value_or(0), min, max);
}

std::optional<std::string> YamlSection::get_optional_string(const std::string& key) {
  YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    node_[key] = YAML::Node(YAML::NodeType::Null);
    return std::nullopt;
  }
  if (!v.IsScalar()) fail(key, "expected a string or null");
  return v.Scalar();
}

std::vector<double> YamlSection::get_float_list(const std::string& key, const std::vector<double>& def) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  if (!v.IsSequence()) fail(key, "expected a list of numbers");
  std::vector<double> out;
  for (const auto& e : v) {
    double x;
    if (!e.IsScalar() || !YAML::convert<double>::decode(e, x)) fail(key, "expected a list of numbers, got " + describe(e));
    out.push_back(x);
  }
  return out;
}

std::vector<std::string> YamlSection::get_string_list(const std::string& key, const std::vector<std::string>& def) {
  YAML::Node v = value(key);
  if (!v.IsDefined()) {
    node_[key] = def;
    return def;
  }
  if (!v.IsSequence()) fail(key, "expected a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.IsScalar()) fail(key, "expected a list of strings");
    out.push_back(e.Scalar());
  }
  return out;
}

YamlSection YamlSection::section(const std::string& key) {
  YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    node_[key] = YAML::Node(YAML::NodeType::Map);
    v = node_[key];
  } else if (!v.IsMap()) {
    fail(key, "expected a section (a map of keys)");
  }
  return YamlSection(v, key_path(key), origin_);
}

YAML::Node YamlSection::list(const std::string& key) {
  YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    node_[key] = YAML::Node(YAML::NodeType::Sequence);
    return node_[key];
  }
  if (!v.IsSequence()) fail(key, "expected a list");
  return v;
}

void YamlSection::finish(const std::vector<std::string>& also_known) const {
  std::vector<std::string> known(read_.begin(), read_.end());
  known.insert(known.end(), also_known.begin(), also_known.end());
  std::map<std::string, YAML::Mark> seen;
  for (const auto& kv : node_) {
    const std::string k = kv.first.Scalar();
    if (auto [it, first] = seen.emplace(k, kv.first.Mark()); !first)
      throw Error(mark_str(origin_->file, kv.first.Mark()) + ": " + key_path(k) + ": given twice (first at " +
                  mark_str(origin_->file, it->second) + ")");
    if (read_.count(k)) continue;
    std::string loc = origin_->overrides.count(key_path(k)) ? origin_->overrides.at(key_path(k))
                                                            : mark_str(origin_->file, kv.first.Mark());
    throw Error(loc + ": unknown key '" + key_path(k) + "'" +
                did_you_mean(k, known, key_path("")));
  }
}

YAML::Node load_recipe_yaml(const std::string& file, const std::vector<std::string>& sets, RecipeOrigin& origin) {
  origin.file = file;
  NF_CHECK(std::filesystem::is_regular_file(file), file + ": no such recipe file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw Error(mark_str(file, e.mark) + ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  NF_CHECK(root.IsMap(), file + ": a recipe must be a map of sections (seed, model, data, ...)");
  for (const std::string& s : sets) {
    size_t eq = s.find('=');
    NF_CHECK(eq != std::string::npos && eq > 0, "--set " + s + ": expected key.path=value");
    std::string path = s.substr(0, eq), text = s.substr(eq + 1);
    YAML::Node value;
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw Error("--set " + s + ": invalid value: " + e.msg);
    }
    std::vector<std::string> parts;
    std::stringstream ss(path);
    for (std::string p; std::getline(ss, p, '.');) {
      NF_CHECK(!p.empty(), "--set " + s + ": empty key in '" + path + "'");
      parts.push_back(p);
    }
    // Walk/create maps down to the parent, then assign (yaml-cpp nodes are references).
    std::vector<YAML::Node> chain{root};
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      YAML::Node next = chain.back()[parts[i]];
      if (!next.IsDefined() || next.IsNull()) {
        chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
        next = chain.back()[parts[i]];
      }
      NF_CHECK(next.IsMap(), "--set " + s + ": '" + parts[i] + "' is not a section");
      chain.push_back(next);
    }
    chain.back()[parts.back()] = value;
    origin.overrides[path] = "--set " + s;
  }
  return root;
}

}  // namespace nf
