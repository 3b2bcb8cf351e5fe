// Glob patterns over parameter names ("layer1.*", "*.bias"): '*' matches any run of
// characters, '?' one character. finetune.freeze and optimizer.no_weight_decay use them.
#pragma once
#include <string>

namespace nf {

bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace nf
