// cuDNN tensor descriptors (cudnn_descriptor.h): setting a packed 4-d F32 descriptor,
// checking that a tensor is what it describes, and the int and format conversions.
#include "framework/backends/cuda/cudnn_descriptor.h"

#include <climits>
#include <string>

#include "framework/core/error.h"

namespace nf::cuda {

int to_int(int64_t v) {
  NF_CHECK(v >= 0 && v <= INT_MAX, "cuDNN: size " + std::to_string(v) + " does not fit in an int");
  return static_cast<int>(v);
}

cudnnTensorFormat_t cudnn_format(MemoryFormat f) {
  return f == MemoryFormat::ChannelsLast ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

void set_tensor_descriptor(const TensorDescriptor& d, const Shape& shape, MemoryFormat f) {
  NF_CHECK(shape.size() == 4, "cuDNN tensor descriptor: 4-d shape expected, got " + shape_str(shape));
  check(cudnnSetTensor4dDescriptor(d.get(), cudnn_format(f), CUDNN_DATA_FLOAT, to_int(shape[0]), to_int(shape[1]),
                                   to_int(shape[2]), to_int(shape[3])),
        "cudnnSetTensor4dDescriptor");
}

void check_described(const char* op, const char* name, const Tensor& t, const Shape& shape, MemoryFormat f) {
  NF_CHECK(t.defined() && t.device().is_cuda() && t.dtype() == DType::F32 && t.shape() == shape &&
               t.is_contiguous(f),
           std::string(op) + " (CUDA): " + name + " must be a dense F32 CUDA tensor of shape " + shape_str(shape) +
               (f == MemoryFormat::ChannelsLast ? " in channels-last" : " in row-major") + " order, got " +
               (t.defined() ? t.str() : "an undefined tensor"));
}

}  // namespace nf::cuda
