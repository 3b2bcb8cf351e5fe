// Error type and check macro used across normforge. Every user-facing failure is
// an nf::Error whose what() is one line naming the offending file/key/value.
#pragma once
#include <stdexcept>
#include <string>

namespace nf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace nf

// NF_CHECK(cond, message-expression): throws nf::Error(message) when cond is false.
#define NF_CHECK(cond, msg)                                  \
  do {                                                       \
    if (!(cond)) throw ::nf::Error(std::string() + msg);     \
  } while (0)
