#include "framework/core/tensor.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace nf {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

Shape format_strides(const Shape& shape, MemoryFormat format) {
  if (format == MemoryFormat::Contiguous || shape.size() < 3) return contiguous_strides(shape);
  // Channels-last: dim 1 innermost, then the spatial dims in order, then N.
  Shape st(shape.size());
  int64_t acc = shape[1];
  st[1] = 1;
  for (size_t i = shape.size() - 1; i >= 2; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  st[0] = acc;
  return st;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, MemoryFormat format) {
  for (int64_t d : shape) NF_CHECK(d >= 0, "negative dimension in shape " + shape_str(shape));
  const bool blocked = format == MemoryFormat::Blocked16;
  if (blocked)
    NF_CHECK(shape.size() == 4 && shape[1] % 16 == 0 && device.is_cpu(),
             "the blocked (nChw16c) format needs a 4-D CPU tensor with a multiple of 16 channels, got " +
                 shape_str(shape) + " on " + device.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = blocked ? contiguous_strides(shape) : format_strides(shape, format);
  impl->dtype = dtype;
  impl->blocked16 = blocked;
  return Tensor(std::move(impl));
}

Tensor Tensor::empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device(), t.memory_format()); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

namespace {
template <class T>
Tensor from_values(const std::vector<T>& values, const Shape& shape, DType dtype, Device device) {
  NF_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "from_vector: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype);
  std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t.to(device);
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  return from_values(values, shape, DType::F32, device);
}

Tensor Tensor::from_vector(const std::vector<int64_t>& values, const Shape& shape, Device device) {
  return from_values(values, shape, DType::I64, device);
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  NF_CHECK(d >= 0 && d < n, "dimension " + std::to_string(d) + " out of range for " + str());
  return impl_->shape[d];
}

bool Tensor::is_contiguous(MemoryFormat format) const {
  if (impl_->blocked16 || format == MemoryFormat::Blocked16)
    return impl_->blocked16 && format == MemoryFormat::Blocked16;
  const Shape want = format_strides(impl_->shape, format);
  for (size_t i = 0; i < want.size(); ++i)
    if (impl_->shape[i] != 1 && impl_->strides[i] != want[i]) return false;
  return true;
}

MemoryFormat Tensor::memory_format() const {
  if (impl_->blocked16) return MemoryFormat::Blocked16;
  return !is_contiguous() && is_contiguous(MemoryFormat::ChannelsLast) ? MemoryFormat::ChannelsLast
                                                                        : MemoryFormat::Contiguous;
}

Tensor Tensor::view(const Shape& shape) const {
  NF_CHECK(is_contiguous(), "view of a non-contiguous tensor " + str());
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      NF_CHECK(infer < 0, "view: more than one -1 in " + shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) s[infer] = known == 0 ? 0 : numel() / known;
  NF_CHECK(shape_numel(s) == numel(), "view: cannot view " + str() + " as " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = s;
  impl->strides = contiguous_strides(s);
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::narrow_batch(int64_t start, int64_t length) const {
  NF_CHECK(dim() >= 1 && start >= 0 && length >= 0 && start + length <= impl_->shape[0],
           "narrow_batch: samples [" + std::to_string(start) + ", " + std::to_string(start + length) +
               ") out of range for " + str());
  Tensor t = detach();
  t.impl()->offset += start * impl_->strides[0];  // blocked: strides are NCHW's, strides[0] = C*H*W
  t.impl()->shape[0] = length;
  return t;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->dtype = impl_->dtype;
  impl->blocked16 = impl_->blocked16;
  return Tensor(std::move(impl));
}

namespace {

// Copies every element of src into dst (same shape and dtype, any strides, CPU).
// The innermost loop runs along dst's innermost dimension, so dst is written in order.
template <class T>
void copy_strided(const Tensor& src, const Tensor& dst) {
  const Shape& shape = src.shape();
  const int64_t nd = src.dim();
  if (src.numel() == 0) return;
  if (nd == 0) {
    *dst.data<T>() = *src.data<T>();
    return;
  }
  int64_t inner = 0;  // dst's fastest-moving dimension (among those longer than 1)
  for (int64_t d = 0; d < nd; ++d)
    if (shape[inner] == 1 || (shape[d] > 1 && dst.strides()[d] < dst.strides()[inner])) inner = d;
  const int64_t len = shape[inner], ss = src.strides()[inner], ds = dst.strides()[inner];
  const int64_t rows = src.numel() / len;
#pragma omp parallel for if (src.numel() >= (int64_t{1} << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t so = 0, dof = 0, rem = r;  // offsets of row r (index over the other dims)
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (d == inner) continue;
      const int64_t i = rem % shape[d];
      rem /= shape[d];
      so += i * src.strides()[d];
      dof += i * dst.strides()[d];
    }
    const T* sp = src.data<T>() + so;
    T* dp = dst.data<T>() + dof;
    for (int64_t j = 0; j < len; ++j) dp[j * ds] = sp[j * ss];
  }
}

// The 5-D strided view [N, C/16, H, W, 16] of a 4-D tensor, blocked or strided, under
// which nChw16c is row-major: copies to and from the blocked format are strided copies.
Tensor blocks_of_16(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->offset = t.impl()->offset;
  const Shape& s = t.shape();
  NF_CHECK(s.size() == 4 && s[1] % 16 == 0, "blocked (nChw16c) copy of " + t.str());
  impl->shape = {s[0], s[1] / 16, s[2], s[3], 16};
  const Shape& st = t.strides();
  impl->strides = t.memory_format() == MemoryFormat::Blocked16 ? contiguous_strides(impl->shape)
                                                               : Shape{st[0], 16 * st[1], st[2], st[3], st[1]};
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

// Copies every element of src into dst (same shape, dtype and device, any strides).
void copy_elements(const Tensor& src, const Tensor& dst) {
  if (src.memory_format() == MemoryFormat::Blocked16 || dst.memory_format() == MemoryFormat::Blocked16) {
    copy_elements(blocks_of_16(src), blocks_of_16(dst));
    return;
  }
  if (src.device().is_cuda()) {
    cuda_copy_strided(src.raw_data(), dst.raw_data(), dtype_size(src.dtype()), static_cast<int>(src.dim()),
                      src.shape().data(), src.strides().data(), dst.strides().data(), src.device().index);
    return;
  }
  switch (dtype_size(src.dtype())) {
    case 2: copy_strided<uint16_t>(src, dst); break;
    case 4: copy_strided<uint32_t>(src, dst); break;
    default: copy_strided<uint64_t>(src, dst); break;
  }
}

}  // namespace

Tensor Tensor::contiguous(MemoryFormat format) const {
  if (is_contiguous(format)) return *this;
  Tensor out = empty(shape(), dtype(), device(), format);
  copy_elements(*this, out);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty_like(*this);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  // The memory format travels with the tensor, as in PyTorch; a blocked one (CPU only)
  // arrives channels-last.
  Tensor src = memory_format() == MemoryFormat::Blocked16 ? contiguous(MemoryFormat::ChannelsLast) : dense();
  Tensor out = empty(shape(), dtype(), d, src.memory_format());
  copy_bytes(out.raw_data(), d, src.raw_data(), device(), nbytes());
  return out;
}

void Tensor::copy_(const Tensor& src) {
  NF_CHECK(src.shape() == shape(), "copy_: shape " + shape_str(src.shape()) + " into " + str());
  NF_CHECK(src.dtype() == dtype(), "copy_: dtype " + std::string(dtype_name(src.dtype())) + " into " + str());
  const bool blocked = memory_format() == MemoryFormat::Blocked16;
  NF_CHECK(is_dense() || blocked, "copy_ into a non-dense tensor " + str());
  if (src.device() == device() && (src.strides() != strides() || src.memory_format() != memory_format())) {
    copy_elements(src, *this);
    return;
  }
  if (blocked) {  // CPU only: bring src here first
    copy_elements(src.to(device()), *this);
    return;
  }
  // Across devices the bytes move in dst's memory format, converted on the source's side.
  Tensor s = src.contiguous(memory_format());
  copy_bytes(raw_data(), device(), s.raw_data(), s.device(), nbytes());
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  if (!device().is_cpu()) return to(Device::cpu()).to(t).to(device());
  std::vector<float> v = to_vector();
  Tensor out = empty(shape(), t);
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (t) {
      case DType::F32: out.data<float>()[i] = v[i]; break;
      case DType::F16: out.data<uint16_t>()[i] = float_to_f16(v[i]); break;
      case DType::BF16: out.data<uint16_t>()[i] = float_to_bf16(v[i]); break;
      case DType::I64: out.data<int64_t>()[i] = static_cast<int64_t>(v[i]); break;
    }
  }
  return out;
}

void Tensor::fill_(double value) {
  NF_CHECK(is_dense() || memory_format() == MemoryFormat::Blocked16, "fill_ on a non-dense tensor " + str());
  uint64_t bits = 0;
  switch (dtype()) {
    case DType::F32: {
      const float f = static_cast<float>(value);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      bits = u;
      break;
    }
    case DType::F16: bits = float_to_f16(static_cast<float>(value)); break;
    case DType::BF16: bits = float_to_bf16(static_cast<float>(value)); break;
    case DType::I64: {
      const int64_t i = static_cast<int64_t>(value);
      std::memcpy(&bits, &i, 8);
      break;
    }
  }
  const int64_t n = numel();
  const size_t es = dtype_size(dtype());
  if (device().is_cuda()) {
    cuda_fill(raw_data(), es, bits, n, device().index);
    return;
  }
  char* p = static_cast<char*>(raw_data());
  for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * es, &bits, es);
}

std::vector<float> Tensor::to_vector() const {
  Tensor h = to(Device::cpu()).contiguous();
  const int64_t n = numel();
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype()) {
      case DType::F32: v[i] = h.data<float>()[i]; break;
      case DType::F16: v[i] = f16_to_float(h.data<uint16_t>()[i]); break;
      case DType::BF16: v[i] = bf16_to_float(h.data<uint16_t>()[i]); break;
      case DType::I64: v[i] = static_cast<float>(h.data<int64_t>()[i]); break;
    }
  }
  return v;
}

std::vector<int64_t> Tensor::to_int_vector() const {
  NF_CHECK(dtype() == DType::I64, "to_int_vector on " + str());
  Tensor h = to(Device::cpu()).contiguous();
  return std::vector<int64_t>(h.data<int64_t>(), h.data<int64_t>() + numel());
}

double Tensor::item() const {
  NF_CHECK(numel() == 1, "item() on " + str() + ", which has " + std::to_string(numel()) + " elements");
  if (dtype() == DType::I64) return static_cast<double>(to_int_vector()[0]);
  return to_vector()[0];
}

Tensor& Tensor::set_requires_grad(bool r) {
  NF_CHECK(!r || dtype() != DType::I64, "integer tensors cannot require gradients");
  impl_->requires_grad = r;
  return *this;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor[undefined]";
  return std::string("Tensor[") + dtype_name(dtype()) + " " + device().str() + " " + shape_str(shape()) + "]";
}

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_float(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 <-> binary32 with round-to-nearest-even, subnormals, inf and nan.
uint16_t float_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t mant = x & 0x7fffff;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into exponent: correct
  return static_cast<uint16_t>(sign | half);
}

float f16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000 | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace nf
