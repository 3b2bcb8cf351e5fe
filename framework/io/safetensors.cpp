#include "framework/io/safetensors.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/io/durable.h"

namespace nf::io {

namespace {

constexpr uint64_t kMaxHeader = 100u << 20;  // 100 MiB, as the reference implementation

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I64") return DType::I64;
  throw Error(where + ": unsupported dtype '" + s + "' (normforge reads F32, F16, BF16, I64)");
}

}  // namespace

TensorDict load_safetensors(const std::string& path, Metadata* metadata) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  NF_CHECK(f, path + ": cannot open file");
  const uint64_t file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  NF_CHECK(file_size >= 8, path + ": truncated safetensors file (" + std::to_string(file_size) + " bytes)");
  unsigned char le[8];
  f.read(reinterpret_cast<char*>(le), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | le[i];
  NF_CHECK(n <= kMaxHeader, path + ": header size " + std::to_string(n) + " is implausible");
  NF_CHECK(n <= file_size - 8, path + ": header size " + std::to_string(n) + " exceeds the file (" +
                                   std::to_string(file_size) + " bytes)");
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  NF_CHECK(f, path + ": cannot read header");

  // Parse, rejecting duplicated top-level names (JSON parsers keep the last silently).
  std::set<std::string> names;
  std::string duplicate;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      if (depth == 1 && ev == nlohmann::json::parse_event_t::key && !names.insert(parsed.get<std::string>()).second)
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": header is not valid JSON (" + e.what() + ")");
  }
  NF_CHECK(duplicate.empty(), path + ": tensor '" + duplicate + "' appears twice in the header");
  NF_CHECK(j.is_object(), path + ": header is not a JSON object");

  const uint64_t data_size = file_size - 8 - n;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  TensorDict out;
  for (auto& [name, entry] : j.items()) {
    const std::string where = path + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      NF_CHECK(entry.is_object(), path + ": __metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        NF_CHECK(v.is_string(), path + ": __metadata__ value of '" + k + "' is not a string");
        if (metadata) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    NF_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
                 entry.contains("data_offsets"),
             where + " lacks dtype, shape or data_offsets");
    NF_CHECK(entry["dtype"].is_string(), where + ": dtype is not a string");
    DType dt = parse_dtype(entry["dtype"].get<std::string>(), where);
    Shape shape;
    NF_CHECK(entry["shape"].is_array(), where + ": shape is not a list");
    uint64_t numel = 1, nonzero = 1;  // nonzero: the product of the other dims, bounded even when one is 0
    for (auto& d : entry["shape"]) {
      NF_CHECK(d.is_number_unsigned(), where + ": shape has a non-integer or negative dimension");
      uint64_t v = d.get<uint64_t>();
      NF_CHECK(v < (1ull << 40) && (v == 0 || nonzero <= (1ull << 40) / v), where + ": shape is too large");
      if (v != 0) nonzero *= v;
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    auto& offs = entry["data_offsets"];
    NF_CHECK(offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned(),
             where + ": data_offsets must be two non-negative integers");
    uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    NF_CHECK(b <= e && e <= data_size, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                                           "] outside the data (" + std::to_string(data_size) + " bytes)");
    NF_CHECK(e - b == numel * dtype_size(dt), where + ": " + std::to_string(e - b) + " bytes for shape " +
                                                  shape_str(shape) + " of " + dtype_name(dt));
    ranges.push_back({b, e});
    Tensor t = Tensor::empty(shape, dt);
    f.seekg(static_cast<std::streamoff>(8 + n + b));
    f.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e - b));
    NF_CHECK(f, where + ": cannot read data");
    out.emplace(name, t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    NF_CHECK(ranges[i].first >= ranges[i - 1].second, path + ": tensors overlap in the data buffer");
  return out;
}

void save_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata, path));
}

std::string safetensors_bytes(const TensorDict& tensors, const Metadata& metadata, const std::string& path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    NF_CHECK(name != "__metadata__", path + ": '__metadata__' is reserved");
    Tensor h = t.to(Device::cpu()).contiguous();
    header[name] = {{"dtype", dtype_name(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + h.nbytes()}}};
    offset += h.nbytes();
    host.push_back(h);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((static_cast<uint64_t>(h.size()) >> (8 * i)) & 0xff);
  bytes += h;
  bytes.reserve(bytes.size() + offset);
  for (const Tensor& t : host) bytes.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return bytes;
}

}  // namespace nf::io
