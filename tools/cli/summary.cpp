// `normforge summary` and the per-layer table it prints (see summary.h).
#include "tools/cli/summary.h"

#include <cstdio>

#include <map>
#include <sstream>

#include "framework/autograd/autograd.h"
#include "tools/cli/commands.h"
#include "tools/train/model_setup.h"

namespace nf {

std::vector<LayerInfo> summarize(Module& model, const Shape& input_chw) {
  const Named<ModulePtr> modules = model.named_modules();
  std::map<const Module*, size_t> index;  // definition order (fused steps run a residual's shortcut mid-body)
  for (size_t i = 0; i < modules.size(); ++i) index[modules[i].second.get()] = i;
  std::map<size_t, LayerInfo> seen;
  Shape in = input_chw;
  in.insert(in.begin(), 1);
  {
    ForwardHookGuard hook([&](const Module& m, const Tensor& x, const Tensor& y) {
      if (!m.children().empty() || !index.count(&m)) return;
      LayerInfo li{modules[index[&m]].first, m.type_name(), y.shape(), 0, 0};
      for (auto& [n, p] : m.named_parameters()) li.params += p.numel();
      li.macs = m.macs(x.shape(), y.shape());
      seen[index[&m]] = li;
    });
    NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    const std::vector<Tensor> params = model.parameters();
    model(Tensor::zeros(in, DType::F32, params.empty() ? Device::cpu() : params.front().device()));
    if (was_training) model.train();
  }
  std::vector<LayerInfo> out;
  for (auto& [i, li] : seen) out.push_back(li);
  return out;
}

int64_t model_macs(Module& model, const Shape& input_chw) {
  int64_t total = 0;
  for (auto& l : summarize(model, input_chw)) total += l.macs;
  return total;
}

std::string format_summary(const std::vector<LayerInfo>& layers, int64_t total_params, int64_t trainable_params) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-32s %-18s %-20s %12s %14s\n", "layer", "type", "output", "params", "MACs");
  os << line << std::string(100, '-') << "\n";
  int64_t macs = 0;
  for (auto& l : layers) {
    std::snprintf(line, sizeof line, "%-32s %-18s %-20s %12lld %14lld\n", l.name.c_str(), l.type.c_str(),
                  shape_str(l.output).c_str(), (long long)l.params, (long long)l.macs);
    os << line;
    macs += l.macs;
  }
  os << std::string(100, '-') << "\n";
  std::snprintf(line, sizeof line, "total params %lld (trainable %lld), MACs per image %lld (%.2f M)\n",
                (long long)total_params, (long long)trainable_params, (long long)macs, macs / 1e6);
  os << line;
  return os.str();
}

void run_summary(const Recipe& r) {
  ModulePtr model = build_recipe_model(r, configure_runtime(r), false);
  int64_t total = 0, trainable = 0;
  for (auto& [n, p] : model->named_parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  const Shape chw = recipe_input_shape(r);
  std::printf("%s (%s), input %s\n", r.model.name.c_str(), r.data.dataset.c_str(), shape_str(chw).c_str());
  std::printf("%s", format_summary(summarize(*model, chw), total, trainable).c_str());
}

}  // namespace nf
