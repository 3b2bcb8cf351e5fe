#include "layers/init.h"

#include <vector>

#include "framework/core/random.h"

namespace nf {

Tensor uniform_init(const Shape& shape, double bound) {
  std::vector<float> v(shape_numel(shape));
  Generator& gen = default_generator();
  for (float& x : v) x = gen.uniform(static_cast<float>(-bound), static_cast<float>(bound));
  return Tensor::from_vector(v, shape);
}

}  // namespace nf
