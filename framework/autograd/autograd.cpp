#include "framework/autograd/autograd.h"

#include <unordered_map>
#include <unordered_set>

namespace nf {

namespace {
thread_local bool g_grad_enabled = true;
GradSumFn g_grad_sum = nullptr;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->name = std::move(name);
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

void set_grad_sum(GradSumFn sum) { g_grad_sum = sum; }

void accumulate_grad(Tensor& a, const Tensor& b) {
  if (!a.defined()) {
    a = b;
    return;
  }
  NF_CHECK(g_grad_sum, "autograd: no gradient sum registered (framework/ops/eltwise.cpp registers ops::add)");
  a = g_grad_sum(a, b);
}

void Tensor::backward(const Tensor& grad_output) const {
  NF_CHECK(requires_grad(), "backward() on a tensor that does not require grad: " + str());
  Tensor seed = grad_output;
  if (!seed.defined()) {
    NF_CHECK(numel() == 1, "backward() without a gradient needs a scalar, got " + str());
    seed = Tensor::ones(shape(), dtype(), device());
  }
  NF_CHECK(seed.shape() == shape(), "backward(): gradient " + seed.str() + " for " + str());

  // Topological order over tensors (post-order DFS, iterative to survive deep nets).
  // `order` owns the impls: a Node's inputs may be the only other owner, and Nodes
  // are released as they run.
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen{impl()};
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{impl_ptr(), 0}};
  while (!stack.empty()) {
    Node* node = stack.back().first->grad_fn.get();
    if (node && stack.back().second < node->inputs.size()) {
      const auto& in = node->inputs[stack.back().second++].impl_ptr();
      if (in && in->requires_grad && seen.insert(in.get()).second) stack.push_back({in, 0});
    } else {
      order.push_back(std::move(stack.back().first));
      stack.pop_back();
    }
  }

  NoGradGuard no_grad;  // backward closures build no graph
  std::unordered_map<TensorImpl*, Tensor> grads;
  grads[impl()] = seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    std::shared_ptr<TensorImpl> t = std::move(*it);  // released after its turn
    auto g = grads.find(t.get());
    if (g == grads.end()) continue;  // no path carried a gradient here
    Tensor grad = std::move(g->second);
    grads.erase(g);
    if (!t->grad_fn) {  // leaf: accumulate into .grad
      Tensor acc(t->grad);
      accumulate_grad(acc, grad.is_contiguous() ? grad : grad.contiguous());
      t->grad = acc.impl_ptr();
      if (t->on_grad_ready) t->on_grad_ready();
      continue;
    }
    // Take the closure and inputs out of the Node: the graph is freed as we go, and
    // a second backward() through it is a clear error, as in PyTorch.
    Node& node = *t->grad_fn;
    NF_CHECK(node.backward, "backward through " + node.name +
                                " a second time: the first backward() freed the graph");
    BackwardFn fn = std::move(node.backward);
    node.backward = nullptr;
    std::vector<Tensor> inputs = std::move(node.inputs);
    node.inputs.clear();
    std::vector<Tensor> in_grads = fn(grad);
    NF_CHECK(in_grads.size() == inputs.size(), "autograd: " + node.name + " returned " +
                                                   std::to_string(in_grads.size()) + " gradients for " +
                                                   std::to_string(inputs.size()) + " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Tensor& in = inputs[i];
      if (!in.defined() || !in.requires_grad() || !in_grads[i].defined()) continue;
      NF_CHECK(in_grads[i].shape() == in.shape(), "autograd: " + node.name + " gave gradient " +
                                                      in_grads[i].str() + " for input " + in.str());
      accumulate_grad(grads[in.impl()], in_grads[i]);
    }
  }
}

}  // namespace nf
