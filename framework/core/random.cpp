#include "framework/core/random.h"

#include <sstream>

#include "framework/core/error.h"

namespace nf {

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_;
  return os.str();
}

void Generator::set_state(const std::string& s) {
  std::istringstream is(s);
  std::mt19937_64 e;
  is >> e;
  NF_CHECK(!is.fail(), "malformed random generator state");
  engine_ = e;
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

}  // namespace nf
