#include "framework/io/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace nf::io {

namespace {
const char* kFiles[] = {"model.safetensors", "trainer_state.safetensors", "config.yaml"};

bool is_complete(const fs::path& dir) {
  for (const char* f : kFiles)
    if (!fs::is_regular_file(dir / f)) return false;
  return true;
}
}  // namespace

void save_checkpoint(const std::string& dir, const Checkpoint& c) {
  const fs::path final_dir(dir);
  const fs::path tmp = final_dir.string() + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  NF_CHECK(!ec, tmp.string() + ": cannot create checkpoint folder (" + ec.message() + ")");
  try {
    save_safetensors((tmp / "model.safetensors").string(), c.model);
    save_safetensors((tmp / "trainer_state.safetensors").string(), c.trainer_state, c.trainer_meta);
    write_file_atomic((tmp / "config.yaml").string(), c.config_yaml);
    if (fs::exists(final_dir)) {  // replace: move the old one aside first, drop it after
      const fs::path old = final_dir.string() + ".old." + std::to_string(getpid());
      fs::remove_all(old);
      fs::rename(final_dir, old);
      fs::rename(tmp, final_dir);
      fs::remove_all(old);
    } else {
      fs::rename(tmp, final_dir);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error(dir + ": cannot write checkpoint (" + e.code().message() + ")");
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

Checkpoint load_checkpoint(const std::string& dir) {
  NF_CHECK(fs::is_directory(dir), dir + ": no such checkpoint folder");
  for (const char* f : kFiles)
    NF_CHECK(fs::is_regular_file(fs::path(dir) / f), dir + ": incomplete checkpoint (no " + f + ")");
  Checkpoint c;
  c.model = load_safetensors((fs::path(dir) / "model.safetensors").string());
  c.trainer_state = load_safetensors((fs::path(dir) / "trainer_state.safetensors").string(), &c.trainer_meta);
  std::ifstream in(fs::path(dir) / "config.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  c.config_yaml = ss.str();
  return c;
}

TensorDict load_model_weights(const std::string& path) {
  if (fs::is_directory(path)) {
    fs::path f = fs::path(path) / "model.safetensors";
    NF_CHECK(fs::is_regular_file(f), path + ": no model.safetensors in this checkpoint folder");
    return load_safetensors(f.string());
  }
  NF_CHECK(fs::is_regular_file(path), path + ": no such checkpoint file or folder");
  return load_safetensors(path);
}

std::vector<std::string> list_checkpoints(const std::string& parent, const std::string& prefix) {
  std::vector<std::pair<long long, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) return {};
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !e.is_directory()) continue;
    const std::string num = name.substr(prefix.size());
    if (num.empty() || !std::all_of(num.begin(), num.end(), ::isdigit) || !is_complete(e.path())) continue;
    found.emplace_back(std::stoll(num), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [n, p] : found) out.push_back(p);
  return out;
}

void prune_checkpoints(const std::string& parent, int64_t keep, const std::string& prefix) {
  auto all = list_checkpoints(parent, prefix);
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove_all(all[i]);
}

}  // namespace nf::io
