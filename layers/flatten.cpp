#include "layers/flatten.h"

#include "framework/ops/shape.h"

namespace nf {

Tensor Flatten::forward(const Tensor& x) { return ops::flatten(x, start_dim_); }

}  // namespace nf
