// Seeded random numbers: a Generator wraps std::mt19937_64, whose whole state can be
// saved and restored as text (checkpoints carry it so a resumed run continues exactly).
// default_generator() is what layer initializers use; manual_seed() reseeds it.
#pragma once
#include <cstdint>
#include <random>
#include <string>

namespace nf {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  void seed(uint64_t s) { engine_.seed(s); }
  std::mt19937_64& engine() { return engine_; }
  uint64_t next() { return engine_(); }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(engine_); }
  float normal(float mean, float std) { return std::normal_distribution<float>(mean, std)(engine_); }
  std::string state() const;            // serialized engine state
  void set_state(const std::string& s);  // throws nf::Error on a malformed state

 private:
  std::mt19937_64 engine_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace nf
