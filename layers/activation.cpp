#include "layers/activation.h"

#include "framework/ops/eltwise.h"

namespace nf {

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }

}  // namespace nf
