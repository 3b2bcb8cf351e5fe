// Device dispatch convention for ops (ggml-style: one branch per backend, per op):
//
//   switch (x.device().type) {
//     case DeviceType::CPU:  ...oneDNN...; break;
//     case DeviceType::CUDA: ...cuDNN / .cu kernel...; break;   // when the CUDA backend has it
//     default: unsupported_device("relu", x);
//   }
//
// An op checks its inputs with the check_* functions below before dispatching.
#pragma once
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace nf::ops {

[[noreturn]] void unsupported_device(const char* op, const Tensor& t);
void check_same_device(const char* op, const std::vector<Tensor>& ts);
void check_dtype(const char* op, const Tensor& t, DType dt);
void check_dim(const char* op, const Tensor& t, int64_t ndim);
// A per-channel vector (weight, bias, running statistics), when defined: F32 of shape
// [n], n = x.size(1) for the normalizations (or F for layer_norm's [N, F]).
void check_channel_vector(const char* op, const Tensor& x, const Tensor& t, const char* name, int64_t n);

// The memory format the normalizations (batch_norm, group_norm) work in: on the CPU,
// rows with the channel innermost (blocked nChw16c stays blocked, the rest goes
// channels-last); on CUDA, x's own dense format (their kernels take either).
MemoryFormat channel_rows_format(const Tensor& x);

}  // namespace nf::ops
