// Device dispatch convention for ops (ggml-style: one branch per backend, per op):
//
//   switch (x.device().type) {
//     case DeviceType::CPU:  ...oneDNN...; break;
//     case DeviceType::CUDA: ...cuDNN / .cu kernel...; break;   // when the CUDA backend has it
//     default: unsupported_device("relu", x);
//   }
//
// Every op checks its inputs with check_same_device/check_float before dispatching.
#pragma once
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace nf::ops {

[[noreturn]] void unsupported_device(const char* op, const Tensor& t);
void check_same_device(const char* op, const std::vector<Tensor>& ts);
void check_dtype(const char* op, const Tensor& t, DType dt);
void check_dim(const char* op, const Tensor& t, int64_t ndim);

}  // namespace nf::ops
