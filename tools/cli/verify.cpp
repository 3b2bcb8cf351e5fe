// `normforge verify` (see commands.h).
#include "tools/cli/commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "framework/io/checkpoint.h"

namespace nf {

int run_verify(const std::string& path) {
  namespace fs = std::filesystem;
  NF_CHECK(fs::is_directory(path), path + ": no such folder");
  std::vector<std::string> dirs;
  auto is_checkpoint = [](const fs::path& d) {
    const std::string name = d.filename().string();
    return fs::is_regular_file(d / "model.safetensors") && name.find(".tmp.") == std::string::npos;
  };
  if (is_checkpoint(path)) {
    dirs.push_back(path);
  } else {
    for (const fs::path& parent : {fs::path(path), fs::path(path) / "checkpoints"})
      if (fs::is_directory(parent))
        for (const auto& e : fs::directory_iterator(parent))
          if (e.is_directory() && is_checkpoint(e.path())) dirs.push_back(e.path().string());
    std::sort(dirs.begin(), dirs.end());
  }
  NF_CHECK(!dirs.empty(), path + ": no checkpoint folder here (none holds a model.safetensors)");
  int bad = 0, unverified = 0;
  for (const std::string& d : dirs) {
    const io::Verification v = io::verify_checkpoint(d);
    bad += v.status == io::Verified::Bad;
    unverified += v.status == io::Verified::NoManifest;
    std::printf("%-10s %s\n", v.status == io::Verified::Ok ? "ok" : v.status == io::Verified::Bad ? "BAD" : "unverified",
                v.message.c_str());
  }
  return bad ? 1 : unverified ? 2 : 0;
}

}  // namespace nf
