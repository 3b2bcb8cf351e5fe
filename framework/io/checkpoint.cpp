#include "framework/io/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/io/durable.h"

namespace fs = std::filesystem;

namespace nf::io {

namespace {
const char* kFiles[] = {"model.safetensors", "trainer_state.safetensors", "config.yaml"};
const char* kManifest = "manifest.json";
const char* kManifestFormat = "normforge-manifest-1";

bool is_complete(const fs::path& dir) {
  for (const char* f : kFiles)
    if (!fs::is_regular_file(dir / f)) return false;
  return true;
}

// Throws the Verification's message when the folder is Bad.
void check_manifest(const std::string& dir) {
  const Verification v = verify_checkpoint(dir);
  if (v.status == Verified::Bad) throw Error(v.message);
}
}  // namespace

void save_checkpoint(const std::string& dir, const Checkpoint& c) {
  const fs::path final_dir(dir);
  const std::string tmp = final_dir.string() + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  NF_CHECK(!ec, dir + ": cannot create checkpoint folder " + tmp + " (" + ec.message() + ")");
  try {
    const std::pair<const char*, std::string> files[] = {
        {kFiles[0], safetensors_bytes(c.model, {}, dir + "/" + kFiles[0])},
        {kFiles[1], safetensors_bytes(c.trainer_state, c.trainer_meta, dir + "/" + kFiles[1])},
        {kFiles[2], c.config_yaml}};
    nlohmann::json manifest = {{"format", kManifestFormat}, {"files", nlohmann::json::object()}};
    for (const auto& [name, bytes] : files) {
      write_file_atomic(tmp + "/" + name, bytes);
      manifest["files"][name] = {{"size", bytes.size()}, {"sha256", sha256_hex(bytes)}};
    }
    write_file_atomic(tmp + "/" + kManifest, manifest.dump(1) + "\n");
    replace_dir(tmp, final_dir.string());
  } catch (const Error& e) {
    fs::remove_all(tmp, ec);
    const std::string why = e.what();
    throw Error(why.rfind(dir, 0) == 0 ? why : dir + ": checkpoint not written: " + why);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

Verification verify_checkpoint(const std::string& dir) {
  const fs::path d(dir);
  if (!fs::is_directory(d)) return {Verified::Bad, dir + ": no such checkpoint folder"};
  if (!fs::exists(d / kManifest))
    return {Verified::NoManifest, dir + ": no manifest.json (written before normforge kept manifests): unverified"};
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file((d / kManifest).string()));
  } catch (const std::exception& e) {
    return {Verified::Bad, (d / kManifest).string() + ": unreadable manifest (" + e.what() + ")"};
  }
  if (!m.is_object() || !m.contains("format") || m["format"] != kManifestFormat || !m.contains("files") ||
      !m["files"].is_object())
    return {Verified::Bad, (d / kManifest).string() + ": not a normforge manifest"};
  for (auto& [name, entry] : m["files"].items()) {
    const std::string path = (d / name).string();
    if (name.find('/') != std::string::npos || !entry.is_object() || !entry.contains("size") ||
        !entry["size"].is_number_unsigned() || !entry.contains("sha256") || !entry["sha256"].is_string())
      return {Verified::Bad, (d / kManifest).string() + ": malformed entry for '" + name + "'"};
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return {Verified::Bad, path + ": missing (listed in manifest.json)"};
    const uint64_t size = fs::file_size(path, ec), want = entry["size"].get<uint64_t>();
    if (ec || size != want)
      return {Verified::Bad, path + ": " + std::to_string(size) + " bytes, the manifest says " + std::to_string(want) +
                                 " (truncated or replaced)"};
    std::string bytes;
    try {
      bytes = read_file(path);
    } catch (const Error& e) {
      return {Verified::Bad, e.what()};
    }
    if (sha256_hex(bytes) != entry["sha256"].get<std::string>())
      return {Verified::Bad, path + ": SHA-256 differs from the manifest's (the file is corrupted)"};
  }
  for (const char* f : kFiles)
    if (!m["files"].contains(f)) return {Verified::Bad, (d / kManifest).string() + ": does not list " + f};
  return {Verified::Ok, dir + ": " + std::to_string(m["files"].size()) + " files verified (size and SHA-256)"};
}

Checkpoint load_checkpoint(const std::string& dir) {
  NF_CHECK(fs::is_directory(dir), dir + ": no such checkpoint folder");
  for (const char* f : kFiles)
    NF_CHECK(fs::is_regular_file(fs::path(dir) / f), dir + ": incomplete checkpoint (no " + f + ")");
  check_manifest(dir);
  Checkpoint c;
  c.model = load_safetensors((fs::path(dir) / "model.safetensors").string());
  c.trainer_state = load_safetensors((fs::path(dir) / "trainer_state.safetensors").string(), &c.trainer_meta);
  c.config_yaml = read_file((fs::path(dir) / "config.yaml").string());
  return c;
}

TensorDict load_model_weights(const std::string& path) {
  if (fs::is_directory(path)) {
    fs::path f = fs::path(path) / "model.safetensors";
    NF_CHECK(fs::is_regular_file(f), path + ": no model.safetensors in this checkpoint folder");
    check_manifest(path);
    return load_safetensors(f.string());
  }
  NF_CHECK(fs::is_regular_file(path), path + ": no such checkpoint file or folder");
  const fs::path folder = fs::path(path).parent_path();  // a file inside a checkpoint folder: checked too
  if (fs::path(path).filename() == "model.safetensors" && fs::exists(folder / kManifest)) check_manifest(folder.string());
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
  for (size_t i = 0; i + keep < all.size(); ++i) {
    // Off its final name in one rename first: a crash while deleting leaves a
    // NAME.tmp.PID folder (the trainer removes those), never an incomplete checkpoint.
    const std::string doomed = all[i] + ".tmp." + std::to_string(getpid());
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (std::rename(all[i].c_str(), doomed.c_str()) == 0) fs::remove_all(doomed, ec);
  }
}

}  // namespace nf::io
