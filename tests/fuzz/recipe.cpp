// Fuzz target: the recipe parser and schema (tools/recipe/recipe.h parse_recipe). The input
// is the YAML text, then after a "\n@@\n" line up to 8 lines of `--set key=value`
// overrides. An accepted recipe must round-trip: its resolved form (what each
// checkpoint saves as config.yaml) parses again, to the same resolved form.
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/recipe/recipe.h"

namespace {

// The same YAML data (scalars' text, maps' keys and values, sequences), whatever the
// layout: yaml-cpp writes a defaulted empty list as a block "[]" and a parsed one inline.
bool same_yaml(const YAML::Node& a, const YAML::Node& b, int depth = 0) {
  if (depth > 200 || a.Type() != b.Type() || a.size() != b.size()) return false;
  if (a.IsScalar()) return a.Scalar() == b.Scalar();
  if (a.IsSequence()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_yaml(a[i], b[i], depth + 1)) return false;
  } else if (a.IsMap()) {
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
      if (!same_yaml(ia->first, ib->first, depth + 1) || !same_yaml(ia->second, ib->second, depth + 1)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = nf_fuzz::split(data, size, 2);
  std::vector<std::string> sets;
  if (parts.size() == 2) {
    std::string_view rest = parts[1];
    while (!rest.empty() && sets.size() < 8) {
      const size_t nl = rest.find('\n');
      sets.emplace_back(rest.substr(0, nl));
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
  }
  const auto dir = nf_fuzz::fresh_dir("recipe");
  const std::string file = (dir / "r.yaml").string();
  nf_fuzz::write_file(file, parts[0]);
  std::string resolved;
  try {
    resolved = nf::dump_recipe(nf::parse_recipe(file, sets));
  } catch (const nf::Error&) {
    return 0;  // a clean rejection
  }
  const std::string again = (dir / "config.yaml").string();
  nf_fuzz::write_file(again, resolved);
  std::string resolved2;
  try {
    resolved2 = nf::dump_recipe(nf::parse_recipe(again));
  } catch (const nf::Error& e) {
    std::fprintf(stderr, "nf_fuzz: the resolved recipe does not parse again: %s\n--- resolved:\n%s\n", e.what(),
                 resolved.c_str());
    nf_fuzz::require(false, "recipe: resolved recipe rejected");
  }
  const bool same = same_yaml(YAML::Load(resolved), YAML::Load(resolved2));
  if (!same) std::fprintf(stderr, "--- resolved:\n%s\n--- resolved again:\n%s\n", resolved.c_str(), resolved2.c_str());
  nf_fuzz::require(same, "recipe: resolving a resolved recipe changes it");
  return 0;
}
