// Owned cuDNN descriptors and the packed 4-d F32 tensor descriptors that the cuDNN
// convolutions (conv.cpp) and pooling (pool.cpp) share. Internal to
// framework/backends/cuda: it includes cuDNN (through context.h).
#pragma once
#include <cstdint>

#include "framework/backends/cuda/context.h"
#include "framework/core/tensor.h"

namespace nf::cuda {

// Owns one cuDNN descriptor (create on construction, destroy on destruction).
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { check(Create(&d_), "cudnnCreate*Descriptor"); }
  ~Descriptor() { Destroy(d_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return d_; }

 private:
  T d_{};
};
using TensorDescriptor = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;

// A packed F32 4-d descriptor for a tensor of `shape` ([N, C, H, W]) in memory format f.
void set_tensor_descriptor(const TensorDescriptor& d, const Shape& shape, MemoryFormat f);

// Throws "<op> (CUDA): <name> must be a dense F32 CUDA tensor of shape ..." unless t is
// exactly what a descriptor made by set_tensor_descriptor(shape, f) describes.
void check_described(const char* op, const char* name, const Tensor& t, const Shape& shape, MemoryFormat f);

// v as a cuDNN int; throws "cuDNN: size <v> does not fit in an int" unless 0 <= v <= INT_MAX.
int to_int(int64_t v);

// CUDNN_TENSOR_NHWC for channels-last, CUDNN_TENSOR_NCHW otherwise.
cudnnTensorFormat_t cudnn_format(MemoryFormat f);

}  // namespace nf::cuda
