// reshape / flatten: metadata only (Tensor::view over contiguous memory), so there is no
// per-device branch; a non-contiguous input is packed by Tensor::contiguous() first.
#include "framework/ops/shape.h"

#include <algorithm>

#include "framework/autograd/autograd.h"

namespace nf::ops {

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = x.contiguous().view(shape);
  const Shape xs = x.shape();
  return record(y, "reshape", {x}, [xs](const Tensor& g) { return std::vector<Tensor>{g.contiguous().view(xs)}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  const int64_t nd = std::max<int64_t>(x.dim(), 1);  // a 0-d tensor flattens to [1]
  const int64_t s = start_dim < 0 ? start_dim + nd : start_dim;
  NF_CHECK(s >= 0 && s < nd, "flatten: start_dim " + std::to_string(start_dim) + " out of range for " + x.str());
  Shape shape(x.shape().begin(), x.shape().begin() + std::min<int64_t>(s, x.dim()));
  int64_t rest = 1;
  for (int64_t d = s; d < x.dim(); ++d) rest *= x.size(d);
  shape.push_back(rest);
  return reshape(x, shape);
}

}  // namespace nf::ops
