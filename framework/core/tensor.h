// Tensor: a handle (shared_ptr) to a TensorImpl holding shape, strides (in elements),
// dtype, device, a shared Storage plus an element offset, and the autograd fields
// (requires_grad, accumulated grad, and grad_fn: the Node that produced it).
// Copying a Tensor copies the handle, as in PyTorch. Shapes are always logical NCHW
// ([N, C, H, W] for images); the memory order is the strides' business: row-major
// (MemoryFormat::Contiguous) or channels-last (NHWC), or, on the CPU, oneDNN's blocked
// nChw16c (MemoryFormat::Blocked16, below), which the CPU backend's conv, BN, ReLU, add
// and pooling produce and consume without reordering.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf {

using Shape = std::vector<int64_t>;

// Dense memory orders, as PyTorch's memory_format. ChannelsLast keeps dim 1 innermost:
// NHWC for [N, C, H, W], [N, L, C] for [N, C, L]; for fewer than 3 dims it is Contiguous.
// Blocked16 is oneDNN's nChw16c, which no strides express: [N, C/16, H, W, 16] in memory,
// channel c of pixel (n, h, w) at ((n * C/16 + c/16) * H * W + h * W + w) * 16 + c % 16.
// It exists for the CPU convolutions (Winograd needs it) and the ops between them
// (BatchNorm, add, ReLU, pooling); 4-D float tensors with C % 16 == 0, CPU only. A
// blocked tensor is not is_dense(): ops that know only strides get a dense() copy.
enum class MemoryFormat { Contiguous, ChannelsLast, Blocked16 };
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);

struct Node;  // framework/autograd/autograd.h
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape, strides;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;    // accumulated gradient (leaves)
  std::shared_ptr<Node> grad_fn;       // producer in the autograd graph (non-leaves)
  // Leaves: called by backward() once this leaf's gradient of the pass is complete
  // (the gradient reducer of data-parallel training starts its allreduce from it).
  std::function<void()> on_grad_ready;
  bool blocked16 = false;  // MemoryFormat::Blocked16; strides are then those of NCHW, unused
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Memory from empty() is uninitialized.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu(),
                      MemoryFormat format = MemoryFormat::Contiguous);
  static Tensor empty_like(const Tensor& t);  // same shape, dtype, device and memory format
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu()) {
    return full(shape, 1.0, dtype, device);
  }
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor scalar(double v, DType dtype = DType::F32) { return full({}, v, dtype); }

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl_->shape); }
  size_t nbytes() const { return numel() * dtype_size(dtype()); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  // Strides of size-1 dimensions are ignored, as in PyTorch ([N, C, 1, 1] is both).
  bool is_contiguous(MemoryFormat format = MemoryFormat::Contiguous) const;
  // Dense in a strided format (Contiguous or ChannelsLast); false for Blocked16.
  bool is_dense() const { return is_contiguous() || is_contiguous(MemoryFormat::ChannelsLast); }
  // Blocked16 for blocked tensors; ChannelsLast when laid out so and not also row-major;
  // else Contiguous.
  MemoryFormat memory_format() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }

  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(dtype());
  }
  template <class T>
  T* data() const {
    return static_cast<T*>(raw_data());
  }

  // Views and copies (no autograd; ops/shape.h has the differentiable reshape/flatten).
  Tensor view(const Shape& shape) const;  // same storage; requires contiguous; one dim may be -1
  // Samples [start, start + length) along dim 0, as a view in the same memory format
  // (any strides, or Blocked16: N is the outermost dimension of every format).
  Tensor narrow_batch(int64_t start, int64_t length) const;
  Tensor contiguous(MemoryFormat format = MemoryFormat::Contiguous) const;  // this, or a packed copy
  Tensor dense() const { return is_dense() ? *this : contiguous(); }      // any strided dense format
  Tensor dense_or_blocked() const {  // for ops that also take Blocked16
    return memory_format() == MemoryFormat::Blocked16 ? *this : dense();
  }
  Tensor clone() const;                   // copy in the same memory format, no autograd history
  Tensor detach() const;                  // same storage, no autograd history
  Tensor to(Device device) const;         // copy to device (this if already there)
  Tensor to(DType dtype) const;           // converted copy (this if same dtype); CPU only
  void copy_(const Tensor& src);          // same shape; any device pair; dtype must match
  void fill_(double value);               // dense tensors

  // Host read-back helpers (copy from the device if needed).
  std::vector<float> to_vector() const;  // F32 (F16/BF16 converted)
  std::vector<int64_t> to_int_vector() const;  // I64
  double item() const;                   // one element

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool r);
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  void backward(const Tensor& grad_output = Tensor()) const;  // framework/autograd

  std::string str() const;  // "Tensor[F32 cpu [2, 3]]"

 private:
  std::shared_ptr<TensorImpl> impl_;
};

Shape contiguous_strides(const Shape& shape);
Shape format_strides(const Shape& shape, MemoryFormat format);

// bfloat16 / float16 conversions (round-to-nearest-even), used by io and dtype casts.
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_f16(float f);
float f16_to_float(uint16_t h);

}  // namespace nf
