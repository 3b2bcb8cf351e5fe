// A validating reader over one YAML map of a recipe. Every typed get() is a schema
// entry: it checks type and range, and a missing key takes its default, which is
// written back so the node ends up as the fully resolved recipe. finish() rejects
// any key that no get() asked for (typos), suggesting the closest known key.
// Errors are one line: "FILE:LINE:COL: key.path: problem" (or "--set key.path=...: problem").
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace nf {

// The spellings of a choice-valued key and the enum value each stands for, in the
// order an error message lists them.
template <class E>
using Choices = std::vector<std::pair<std::string, E>>;

struct RecipeOrigin {
  std::string file;
  std::map<std::string, std::string> overrides;  // key path -> "--set key=value" text
};

class YamlSection {
 public:
  YamlSection(YAML::Node node, std::string path, std::shared_ptr<const RecipeOrigin> origin);

  int64_t get_int(const std::string& key, int64_t def, int64_t min, int64_t max);
  double get_float(const std::string& key, double def, double min, double max);
  bool get_bool(const std::string& key, bool def);
  std::string get_string(const std::string& key, const std::string& def);
  std::string get_choice(const std::string& key, const std::string& def, const std::vector<std::string>& choices);
  // get_choice parsed into its enum value.
  template <class E>
  E get_enum(const std::string& key, const std::string& def, const Choices<E>& choices) {
    std::vector<std::string> names;
    for (const auto& c : choices) names.push_back(c.first);
    const std::string s = get_choice(key, def, names);
    return std::find_if(choices.begin(), choices.end(), [&](const auto& c) { return c.first == s; })->second;
  }
  // `null` (or ~) allowed; returns nullopt for it.
  std::optional<double> get_optional_float(const std::string& key, std::optional<double> def, double min, double max);
  std::optional<int64_t> get_optional_int(const std::string& key, std::optional<int64_t> def, int64_t min, int64_t max);
  std::optional<std::string> get_optional_string(const std::string& key);
  std::vector<double> get_float_list(const std::string& key, const std::vector<double>& def);
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& def);
  YamlSection section(const std::string& key);  // a nested map (created empty when missing)
  YAML::Node list(const std::string& key);      // a raw sequence (created empty when missing)
  // `also_known`: keys suggested in "did you mean" besides those read (missing required ones).
  void finish(const std::vector<std::string>& also_known = {}) const;
  bool has(const std::string& key) const;  // present and not null (does not mark it read)
  // The key's scalar text, if it is a scalar (does not mark it read).
  std::optional<std::string> peek_scalar(const std::string& key) const;

  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;
  [[noreturn]] void fail_at(const YAML::Node& n, const std::string& what, const std::string& problem) const;
  const std::shared_ptr<const RecipeOrigin>& origin() const { return origin_; }

 private:
  YAML::Node value(const std::string& key);  // marks the key read; undefined if absent
  // For the optional getters: true (and the key read, null written back) when the value
  // is null, or absent without a default.
  bool take_null(const std::string& key, bool has_default);
  std::string where(const std::string& key) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const RecipeOrigin> origin_;
  std::set<std::string> read_;
};

// "FILE:LINE:COL" of a node (FILE alone when the node has no position).
std::string yaml_location(const std::string& file, const YAML::Node& n);
// " (did you mean 'x'?)" for the closest of `known` within edit distance 2, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& known, const std::string& prefix = "");

// Loads a YAML file and applies "--set a.b.c=value" overrides (value parsed as YAML).
YAML::Node load_recipe_yaml(const std::string& file, const std::vector<std::string>& sets, RecipeOrigin& origin);

}  // namespace nf
