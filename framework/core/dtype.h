// Element types and devices a Tensor can have.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nf {

enum class DType : uint8_t { F32, F16, BF16, I64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", "F16", "BF16", "I64" (safetensors spelling)

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  static Device parse(const std::string& s);  // "cpu" | "cuda" | "cuda:N"
};

}  // namespace nf
