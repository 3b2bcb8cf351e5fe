// Fuzz target: the safetensors reader (framework/io/safetensors.h). The input is the
// file. An accepted file must round-trip: saved again and re-read, the same names,
// dtypes, shapes, bytes and metadata.
#include <cstring>

#include "framework/io/safetensors.h"
#include "framework/core/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

bool same(const nf::io::TensorDict& a, const nf::io::TensorDict& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    const nf::Tensor &x = ia->second, &y = ib->second;
    if (ia->first != ib->first || x.dtype() != y.dtype() || x.shape() != y.shape() || x.nbytes() != y.nbytes())
      return false;
    if (x.nbytes() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = nf_fuzz::fresh_dir("safetensors");
  const std::string path = (dir / "in.safetensors").string();
  nf_fuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
  nf::io::TensorDict tensors;
  nf::io::Metadata meta;
  try {
    tensors = nf::io::load_safetensors(path, &meta);
  } catch (const nf::Error&) {
    return 0;  // a clean rejection
  }
  const std::string again = (dir / "again.safetensors").string();
  nf::io::save_safetensors(again, tensors, meta);
  nf::io::Metadata meta2;
  const nf::io::TensorDict tensors2 = nf::io::load_safetensors(again, &meta2);
  nf_fuzz::require(same(tensors, tensors2), "safetensors: tensors change in a save/load round trip");
  nf_fuzz::require(meta == meta2, "safetensors: metadata changes in a save/load round trip");
  return 0;
}
