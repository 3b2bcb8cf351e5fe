// Shared by the fuzz targets (tests/fuzz/*.cpp): a scratch folder per process, files
// written from the input's bytes, and the input split into parts.
//
// Every target defines LLVMFuzzerTestOneInput. Clean rejection (nf::Error) is the
// expected outcome for a bad input; anything else escaping (another exception type,
// a crash, a sanitizer report, a broken round trip: nf_fuzz::require) is a finding.
// Built two ways by tests/fuzz/CMakeLists.txt: with clang -fsanitize=fuzzer
// (tools/scripts/fuzz.sh TARGET SECONDS) and, in every build, against replay_main.cpp, which
// feeds each file of tests/fuzz/corpus/TARGET/ to the target (CTest fuzz_replay.TARGET).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace nf_fuzz {

namespace fs = std::filesystem;

// Parts of multi-file inputs are separated by this line (tests/fuzz/dict/*.dict has it).
inline constexpr std::string_view kSeparator = "\n@@\n";

// This process's scratch folder (in /dev/shm when there is one: fast), removed at exit.
inline const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    std::string base = "/tmp";
    if (const char* t = std::getenv("TMPDIR"); t && *t) base = t;
    if (std::getenv("NF_FUZZ_TMP") == nullptr && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    if (const char* t = std::getenv("NF_FUZZ_TMP"); t && *t) base = t;
    std::string tmpl = base + "/nf_fuzz_XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("nf_fuzz: mkdtemp");
      std::abort();
    }
    return fs::path(tmpl);
  }();
  static const struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup;
  return dir;
}

// scratch_dir()/name, emptied (a fresh folder for each input).
inline fs::path fresh_dir(const std::string& name) {
  const fs::path d = scratch_dir() / name;
  std::error_code ec;
  fs::remove_all(d, ec);
  fs::create_directories(d);
  return d;
}

inline void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "nf_fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// The input cut at each kSeparator, at most max_parts parts (the last keeps the rest).
inline std::vector<std::string_view> split(const uint8_t* data, size_t size, size_t max_parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

// A property every accepted input must keep (a round trip, a shape): abort when broken,
// so libFuzzer (or the replay) reports it like a crash.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "nf_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace nf_fuzz
