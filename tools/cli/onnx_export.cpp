// export_onnx: the module tree walked into an ONNX graph (see onnx_export.h).
#include "tools/cli/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <fstream>
#include <set>
#include <variant>

#include "framework/autograd/autograd.h"
#include "framework/io/durable.h"
#include "layers/onnx_graph.h"

namespace nf {

namespace {

constexpr int kOpset = 13;

// The ONNX graph under construction (layers/onnx_graph.h): nodes, initializers and
// unique value names, over ONNX's protobuf types.
class GraphWriter : public OnnxGraph {
 public:
  GraphWriter(onnx::GraphProto& g, std::map<const Module*, Shape> input_shapes)
      : g_(g), shapes_(std::move(input_shapes)) {}

  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint,
                   const std::vector<OnnxAttr>& attrs) override {
    auto* n = g_.add_node();
    n->set_op_type(op);
    const std::string out = fresh(hint);
    n->set_name(out);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(out);
    for (const OnnxAttr& a : attrs) set_attr(*n->add_attribute(), a);
    return out;
  }

  std::string initializer(const std::string& hint, const Shape& dims, const std::vector<float>& values) override {
    auto* t = g_.add_initializer();
    const std::string name = fresh(hint);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
    return name;
  }
  std::string initializer(const std::string& hint, const Tensor& t) override {
    return initializer(hint, t.shape(), t.contiguous().to_vector());
  }
  std::string initializer_i64(const std::string& hint, const std::vector<int64_t>& values) override {
    auto* t = g_.add_initializer();
    const std::string name = fresh(hint);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    t->set_raw_data(values.data(), values.size() * sizeof(int64_t));
    return name;
  }

  Shape input_shape(const Module& m, const std::string& p) const override {
    auto it = shapes_.find(&m);
    NF_CHECK(it != shapes_.end(), "export: " + p + " (" + m.type_name() + ") is not reached by the forward pass");
    return Shape(it->second.begin() + 1, it->second.end());
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
  static void set_attr(onnx::AttributeProto& a, const OnnxAttr& attr) {
    a.set_name(attr.name);
    if (auto* i = std::get_if<int64_t>(&attr.value)) {
      a.set_type(onnx::AttributeProto::INT);
      a.set_i(*i);
    } else if (auto* f = std::get_if<double>(&attr.value)) {
      a.set_type(onnx::AttributeProto::FLOAT);
      a.set_f(static_cast<float>(*f));
    } else {
      a.set_type(onnx::AttributeProto::INTS);
      for (int64_t v : std::get<std::vector<int64_t>>(attr.value)) a.add_ints(v);
    }
  }

  std::string fresh(const std::string& hint) {
    std::string name = hint.empty() ? "x" : hint;
    for (int i = 2; !used_.insert(name).second; ++i) name = (hint.empty() ? "x" : hint) + "_" + std::to_string(i);
    return name;
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
  writer.rename_output(model.to_onnx(writer, "", "input"), "logits");

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
