// export_onnx: the module tree walked into an ONNX graph (see onnx_export.h).
#include "tools/cli/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <fstream>
#include <set>

#include "framework/autograd/autograd.h"
#include "framework/io/durable.h"
#include "framework/io/safetensors.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/group_norm.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/residual.h"

namespace nf {

namespace {

constexpr int kOpset = 13;

template <class T>
T* as(Module& m) {
  return dynamic_cast<T*>(&m);
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// One ONNX graph under construction: nodes, initializers and unique value names.
class GraphWriter {
 public:
  GraphWriter(onnx::GraphProto& g, std::map<const Module*, Shape> input_shapes)
      : g_(g), shapes_(std::move(input_shapes)) {}

  // Appends the nodes computing module m (state_dict prefix p) of value x; returns its output.
  std::string emit(Module& m, const std::string& p, const std::string& x) {
    if (auto* s = as<Sequential>(m)) return emit_range(*s, p, 0, s->size(), x);
    if (auto* r = as<Residual>(m)) return residual(*r, p, x);
    if (auto* c = as<Conv2d>(m)) return conv(*c, p, x);
    if (auto* bn = as<BatchNorm>(m)) return batch_norm(*bn, p, x);
    if (auto* gn = as<GroupNorm>(m)) return group_norm(*gn, gn->groups(), p, x);
    if (auto* ln = as<LayerNorm>(m)) return group_norm(*ln, 1, p, x);
    if (as<ReLU>(m)) return node("Relu", {x}, p);
    if (as<Dropout>(m)) return x;
    if (auto* mp = as<MaxPool2d>(m)) return pool("MaxPool", mp->kernel(), mp->stride(), mp->padding(), p, x);
    if (auto* ap = as<AvgPool2d>(m)) return pool("AveragePool", ap->kernel(), ap->stride(), ap->padding(), p, x);
    if (auto* ad = as<AdaptiveAvgPool2d>(m)) return adaptive_avg_pool(*ad, p, x);
    if (auto* f = as<Flatten>(m)) {
      NF_CHECK(f->start_dim() == 1, "export: " + p + ": Flatten(start_dim=" + std::to_string(f->start_dim()) +
                                        ") has no ONNX form here (only start_dim=1)");
      return node("Flatten", {x}, p, [](onnx::NodeProto& n) { attr_int(n, "axis", 1); });
    }
    if (auto* l = as<Linear>(m)) return linear(*l, p, x);
    if (auto* ps = as<PadShortcut>(m)) return pad_shortcut(*ps, p, x);
    throw Error("export: " + (p.empty() ? std::string("the model") : p) + " (" + m.type_name() + ") has no ONNX form");
  }

  // The producer of `value` renamed to `name` (the graph's output "logits").
  void rename_output(const std::string& value, const std::string& name) {
    for (auto& n : *g_.mutable_node())
      for (auto& out : *n.mutable_output())
        if (out == value) {
          out = name;
          return;
        }
    throw Error("export: the model's output is its input");
  }

 private:
  using Attrs = std::function<void(onnx::NodeProto&)>;

  static void attr_int(onnx::NodeProto& n, const char* name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_ints(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t i : v) a->add_ints(i);
  }
  static void attr_float(onnx::NodeProto& n, const char* name, double v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }

  std::string fresh(const std::string& hint) {
    std::string name = hint.empty() ? "x" : hint;
    for (int i = 2; !used_.insert(name).second; ++i) name = (hint.empty() ? "x" : hint) + "_" + std::to_string(i);
    return name;
  }

  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint,
                   const Attrs& attrs = {}) {
    auto* n = g_.add_node();
    n->set_op_type(op);
    const std::string out = fresh(hint);
    n->set_name(out);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(out);
    if (attrs) attrs(*n);
    return out;
  }

  // A float initializer of the given dims and values; returns its name.
  std::string init(const std::string& hint, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    auto* t = g_.add_initializer();
    const std::string name = fresh(hint);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
    return name;
  }
  std::string init(const std::string& hint, const Tensor& t) {
    return init(hint, std::vector<int64_t>(t.shape().begin(), t.shape().end()), t.contiguous().to_vector());
  }
  std::string init_i64(const std::string& hint, const std::vector<int64_t>& values) {
    auto* t = g_.add_initializer();
    const std::string name = fresh(hint);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    t->set_raw_data(values.data(), values.size() * sizeof(int64_t));
    return name;
  }

  // The per-sample input shape of m (from the shape-learning forward pass).
  Shape sample_shape(Module& m, const std::string& p) const {
    auto it = shapes_.find(&m);
    NF_CHECK(it != shapes_.end(), "export: " + p + " (" + m.type_name() + ") is not reached by the forward pass");
    return Shape(it->second.begin() + 1, it->second.end());
  }

  std::string emit_range(Sequential& s, const std::string& p, size_t begin, size_t end, std::string x) {
    for (size_t i = begin; i < end; ++i) x = emit(*s.at(i), join(p, s.children()[i].first), x);
    return x;
  }

  std::string residual(Residual& res, const std::string& p, const std::string& x) {
    const ResidualOptions& o = res.options();
    const std::string body_p = o.inline_body ? p : join(p, "body");
    const std::string pre = emit_range(res.body(), body_p, 0, o.shortcut_after, x);
    const std::string h = emit_range(res.body(), body_p, o.shortcut_after, res.body().size(), pre);
    const std::string s = res.shortcut().size() ? emit(res.shortcut(), join(p, o.shortcut_name), pre) : pre;
    const std::string y = node("Add", {h, s}, join(p, "add"));
    return o.relu ? node("Relu", {y}, join(p, "relu")) : y;
  }

  std::string conv(Conv2d& c, const std::string& p, const std::string& x) {
    std::vector<std::string> in{x, init(join(p, "weight"), c.weight())};
    if (c.bias().defined()) in.push_back(init(join(p, "bias"), c.bias()));
    const Conv2dOptions& o = c.options();
    const int64_t k = c.kernel_size();
    return node("Conv", in, p, [&](onnx::NodeProto& n) {
      attr_ints(n, "kernel_shape", {k, k});
      attr_ints(n, "strides", {o.stride, o.stride});
      attr_ints(n, "pads", {o.padding, o.padding, o.padding, o.padding});
      attr_ints(n, "dilations", {o.dilation, o.dilation});
      attr_int(n, "group", o.groups);
    });
  }

  std::string batch_norm(BatchNorm& bn, const std::string& p, const std::string& x) {
    NF_CHECK(bn.has_running_stats(), "export: " + p + " (" + bn.type_name() +
                                         ") has no running statistics (track_running_stats: false): it normalizes "
                                         "each batch by itself, which has no inference form");
    const int64_t c = bn.num_features();
    const std::string scale = bn.weight().defined() ? init(join(p, "weight"), bn.weight())
                                                    : init(join(p, "weight"), {c}, std::vector<float>(c, 1.f));
    const std::string shift = bn.bias().defined() ? init(join(p, "bias"), bn.bias())
                                                  : init(join(p, "bias"), {c}, std::vector<float>(c, 0.f));
    return node("BatchNormalization",
                {x, scale, shift, init(join(p, "running_mean"), bn.running_mean()),
                 init(join(p, "running_var"), bn.running_var())},
                p, [&](onnx::NodeProto& n) { attr_float(n, "epsilon", bn.options().eps); });
  }

  // GroupNorm(groups, C) over [N, C, ...] (LayerNorm(F): groups 1 over [N, F]):
  // Reshape [N, groups, -1], InstanceNormalization, Reshape back, Mul, Add.
  std::string group_norm(Norm& norm, int64_t groups, const std::string& p, const std::string& x) {
    const Shape s = sample_shape(norm, p);
    std::vector<int64_t> back{0};
    back.insert(back.end(), s.begin(), s.end());
    const std::string grouped = node("Reshape", {x, init_i64(join(p, "group_shape"), {0, groups, -1})}, join(p, "grouped"));
    const std::string normed =
        node("InstanceNormalization",
             {grouped, init(join(p, "unit_scale"), {groups}, std::vector<float>(groups, 1.f)),
              init(join(p, "zero_shift"), {groups}, std::vector<float>(groups, 0.f))},
             join(p, "normalized"), [&](onnx::NodeProto& n) { attr_float(n, "epsilon", norm.eps()); });
    std::string y = node("Reshape", {normed, init_i64(join(p, "shape"), back)}, join(p, "ungrouped"));
    if (!norm.weight().defined()) return y;
    std::vector<int64_t> affine{s[0]};  // [C, 1, 1]: broadcast over the spatial dimensions
    affine.resize(s.size(), 1);
    y = node("Mul", {y, init(join(p, "weight"), affine, norm.weight().to_vector())}, join(p, "scaled"));
    return node("Add", {y, init(join(p, "bias"), affine, norm.bias().to_vector())}, p);
  }

  // Square windows (the pooling layers' and adaptive pooling's when the sizes divide).
  // Average pooling counts the zero padding (PyTorch's count_include_pad=True), written
  // as an explicit zero Pad then an unpadded AveragePool: OpenCV 4.6 ignores
  // count_include_pad (it divides border windows by their in-image count).
  std::string pool(const char* op, int64_t kernel, int64_t stride, int64_t padding, const std::string& p,
                   std::string x) {
    const bool avg = std::strcmp(op, "AveragePool") == 0;
    if (avg && padding > 0) {
      x = node("Pad", {x, init_i64(join(p, "pads"), {0, 0, padding, padding, 0, 0, padding, padding})},
               join(p, "padded"));
      padding = 0;
    }
    return node(op, {x}, p, [&](onnx::NodeProto& n) {
      attr_ints(n, "kernel_shape", {kernel, kernel});
      attr_ints(n, "strides", {stride, stride});
      attr_ints(n, "pads", {padding, padding, padding, padding});
    });
  }

  std::string adaptive_avg_pool(AdaptiveAvgPool2d& a, const std::string& p, const std::string& x) {
    if (a.out_h() == 1 && a.out_w() == 1) return node("GlobalAveragePool", {x}, p);
    const Shape s = sample_shape(a, p);
    NF_CHECK(s[1] % a.out_h() == 0 && s[2] % a.out_w() == 0 && s[1] / a.out_h() == s[2] / a.out_w(),
             "export: " + p + ": AdaptiveAvgPool2d(" + std::to_string(a.out_h()) + ", " + std::to_string(a.out_w()) +
                 ") of a " + shape_str(s) + " input has windows of uneven or non-square size, which have no ONNX form here");
    const int64_t k = s[1] / a.out_h();
    return pool("AveragePool", k, k, 0, p, x);
  }

  std::string linear(Linear& lm, const std::string& p, const std::string& x) {
    const std::string b = lm.bias().defined()
                              ? init(join(p, "bias"), lm.bias())
                              : init(join(p, "bias"), {lm.out_features()}, std::vector<float>(lm.out_features(), 0.f));
    return node("Gemm", {x, init(join(p, "weight"), lm.weight()), b}, p,
                [](onnx::NodeProto& n) { attr_int(n, "transB", 1); });
  }

  std::string pad_shortcut(PadShortcut& ps, const std::string& p, const std::string& x) {
    const int64_t in = sample_shape(ps, p)[0], out = ps.out_channels(), off = (out - in) / 2;
    std::vector<float> w(out * in, 0.f);  // [out, in, 1, 1]
    for (int64_t c = 0; c < in; ++c) w[(c + off) * in + c] = 1.f;
    return node("Conv", {x, init(join(p, "select"), {out, in, 1, 1}, w)}, p, [&](onnx::NodeProto& n) {
      attr_ints(n, "kernel_shape", {1, 1});
      attr_ints(n, "strides", {ps.stride(), ps.stride()});
    });
  }

  onnx::GraphProto& g_;
  std::map<const Module*, Shape> shapes_;
  std::set<std::string> used_{"input", "logits"};
};

// Each module's input shape, from one forward pass of a [1, chw] zero batch in eval mode.
std::map<const Module*, Shape> learn_shapes(Module& model, const Shape& chw, Shape& out) {
  std::map<const Module*, Shape> shapes;
  model.eval();
  NoGradGuard no_grad;
  ForwardHookGuard hook([&](const Module& m, const Tensor& x, const Tensor&) { shapes.emplace(&m, x.shape()); });
  Shape in{1};
  in.insert(in.end(), chw.begin(), chw.end());
  out = model(Tensor::zeros(in)).shape();
  return shapes;
}

void set_shape(onnx::ValueInfoProto& v, const std::string& name, const std::optional<int64_t>& batch,
               const Shape& sample) {
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* s = t->mutable_shape();
  if (batch)
    s->add_dim()->set_dim_value(*batch);
  else
    s->add_dim()->set_dim_param("N");
  for (int64_t d : sample) s->add_dim()->set_dim_value(d);
}

}  // namespace

void export_onnx(Module& model, const Shape& chw, const OnnxExportOptions& options, const std::string& path) {
  Shape out;
  std::map<const Module*, Shape> shapes = learn_shapes(model, chw, out);
  const Shape classes(out.begin() + 1, out.end());

  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.set_producer_name("normforge");
  m.set_model_version(1);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  for (const auto& [k, v] : options.metadata) {
    auto* prop = m.add_metadata_props();
    prop->set_key(k);
    prop->set_value(v);
  }
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("normforge");
  set_shape(*g.add_input(), "input", options.batch, chw);
  set_shape(*g.add_output(), "logits", options.batch, classes);
  GraphWriter writer(g, std::move(shapes));
  writer.rename_output(writer.emit(model, "", "input"), "logits");

  try {
    onnx::checker::check_model(m);
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions{/*check_type=*/true, /*error_mode=*/1});
  } catch (const std::exception& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    throw Error("export: the ONNX checker rejects the graph: " + what);
  }

  std::string bytes;
  NF_CHECK(m.SerializeToString(&bytes), "export: the ONNX model does not serialize (over 2 GiB?)");
  io::write_file_atomic(path, bytes);
}

std::map<std::string, std::string> onnx_metadata(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NF_CHECK(f.good(), "cannot read " + path + ": " + std::strerror(errno));
  onnx::ModelProto m;
  NF_CHECK(m.ParseFromIstream(&f) && m.has_graph(), path + ": not an ONNX model");
  std::map<std::string, std::string> meta;
  for (const auto& prop : m.metadata_props()) meta[prop.key()] = prop.value();
  return meta;
}

}  // namespace nf
