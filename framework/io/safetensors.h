// safetensors read/write (https://github.com/huggingface/safetensors format):
//   [u64 little-endian N][N bytes of JSON header][raw little-endian tensor bytes]
// header: {"name": {"dtype": "F32"|"F16"|"BF16"|"I64", "shape": [..], "data_offsets": [b, e]}, ...,
//          "__metadata__": {"key": "string", ...}}   offsets relative to the byte buffer.
// Every size and offset is checked against the file; a malformed file throws nf::Error
// naming the file and the problem. Writes go to a temporary name and are renamed.
#pragma once
#include <map>
#include <string>

#include "framework/core/tensor.h"

namespace nf::io {

using TensorDict = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

TensorDict load_safetensors(const std::string& path, Metadata* metadata = nullptr);
void save_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});
// The file's bytes (`path` only names it in errors).
std::string safetensors_bytes(const TensorDict& tensors, const Metadata& metadata = {}, const std::string& path = "");

}  // namespace nf::io
