// Autograd, micrograd-style. An op that wants a gradient calls record(): the output
// gets a Node holding the op's inputs and a backward closure that maps the output's
// gradient to one gradient per input (undefined where an input needs none).
// Tensor::backward() sorts the graph topologically and runs the closures in reverse,
// summing gradients that meet; leaves accumulate into .grad() (and then call their
// on_grad_ready hook, if set: a leaf is reached after every op that used it, so its
// gradient is final for the pass). Each Node is released
// as soon as it has run, so the graph is freed by the end of backward().
//
// The only global mutable state is the grad mode (thread-local), switched by NoGradGuard.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace nf {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;            // op name, for error messages
  std::vector<Tensor> inputs;  // the op's inputs, aligned with backward's result
  BackwardFn backward;
};

bool grad_enabled();

// Disables graph recording in its scope (evaluation, optimizer updates, BN statistics).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and any input requires a gradient.
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a Node to `output` when needs_grad(inputs); returns output either way.
// The closure must not capture `output` itself (that would make a reference cycle):
// capture output.detach() where the backward needs the forward result.
Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward);

// Adds b into a (same shape/dtype/device); used to accumulate gradients. An undefined a
// takes b; otherwise a becomes the registered gradient sum of a and b.
void accumulate_grad(Tensor& a, const Tensor& b);

// The gradient sum: a + b, same shape, dtype and device, in a's memory format. Autograd
// calls no op, so the ops layer registers its add (framework/ops/eltwise.cpp) when the
// program starts; backward() where gradients meet and none is registered is an error.
using GradSumFn = Tensor (*)(const Tensor& a, const Tensor& b);
void set_grad_sum(GradSumFn sum);

}  // namespace nf
