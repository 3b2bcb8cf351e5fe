// cuDNN convolutions (layouts and algorithm policy: conv.h): the plan cache (one
// Plan of descriptors per geometry, each direction's algorithm chosen on its first use)
// and the forward, backward-data, backward-filter and backward-bias calls. All calls run
// on cuda::stream() through cuda::cudnn(), with the shared cuda::workspace().
#include "framework/backends/cuda/conv.h"

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "framework/backends/cuda/cudnn_descriptor.h"

namespace nf::cuda {

namespace {

constexpr size_t kMaxWorkspace = size_t(1) << 30;  // 1 GiB

using FilterDescriptor = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// The algorithm of one direction, with its own convolution descriptor (it carries the
// algorithm's math type) and the workspace it needs.
template <class Algo>
struct Choice {
  ConvDescriptor conv;
  Algo algo{};
  size_t workspace = 0;
};

// Descriptors of one geometry; y is the output shape cuDNN computed.
struct Plan {
  Shape y;
  TensorDescriptor x_desc, y_desc, bias_desc;
  FilterDescriptor w_desc;
  std::unique_ptr<Choice<cudnnConvolutionFwdAlgo_t>> fwd;
  std::unique_ptr<Choice<cudnnConvolutionBwdDataAlgo_t>> bwd_data;
  std::unique_ptr<Choice<cudnnConvolutionBwdFilterAlgo_t>> bwd_filter;
};

std::string describe(const ConvShape& s) {
  return "input " + shape_str(s.x) + ", weight " + shape_str(s.w) + ", stride (" + std::to_string(s.stride_h) + ", " +
         std::to_string(s.stride_w) + "), padding (" + std::to_string(s.pad_h) + ", " + std::to_string(s.pad_w) +
         "), dilation (" + std::to_string(s.dilation_h) + ", " + std::to_string(s.dilation_w) + "), groups " +
         std::to_string(s.groups) + (s.format == MemoryFormat::ChannelsLast ? ", NHWC" : ", NCHW");
}

// Cross-correlation in fp32 with the geometry's padding, stride, dilation and groups;
// FMA math (no TF32) unless cuda::allow_tf32().
void set_conv_descriptor(const ConvDescriptor& c, const ConvShape& s) {
  check(cudnnSetConvolution2dDescriptor(c.get(), to_int(s.pad_h), to_int(s.pad_w), to_int(s.stride_h),
                                        to_int(s.stride_w), to_int(s.dilation_h), to_int(s.dilation_w),
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        "cudnnSetConvolution2dDescriptor");
  check(cudnnSetConvolutionGroupCount(c.get(), to_int(s.groups)), "cudnnSetConvolutionGroupCount");
  check(cudnnSetConvolutionMathType(c.get(), allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
        "cudnnSetConvolutionMathType");
}

std::unique_ptr<Plan> make_plan(const ConvShape& s) {
  auto p = std::make_unique<Plan>();
  set_tensor_descriptor(p->x_desc, s.x, s.format);
  check(cudnnSetFilter4dDescriptor(p->w_desc.get(), CUDNN_DATA_FLOAT, cudnn_format(s.format), to_int(s.w[0]),
                                   to_int(s.w[1]), to_int(s.w[2]), to_int(s.w[3])),
        "cudnnSetFilter4dDescriptor");
  ConvDescriptor conv;
  set_conv_descriptor(conv, s);
  int n = 0, c = 0, h = 0, w = 0;
  check(cudnnGetConvolution2dForwardOutputDim(conv.get(), p->x_desc.get(), p->w_desc.get(), &n, &c, &h, &w),
        "cudnnGetConvolution2dForwardOutputDim");
  p->y = {n, c, h, w};
  set_tensor_descriptor(p->y_desc, p->y, s.format);
  set_tensor_descriptor(p->bias_desc, {1, s.w[0], 1, 1}, MemoryFormat::Contiguous);
  return p;
}

// The plan cache, keyed by every value a plan depends on. Plans live for the process.
using Key = std::array<int64_t, 19>;
std::mutex g_plans_mutex;
std::map<Key, std::unique_ptr<Plan>>& plans() {
  static auto* m = new std::map<Key, std::unique_ptr<Plan>>;
  return *m;
}

// The plan of s on the current device; the caller holds g_plans_mutex.
Plan& plan(const ConvShape& s) {
  NF_CHECK(s.x.size() == 4 && s.w.size() == 4, "conv2d (CUDA): 4-d input and weight expected, " + describe(s));
  const Key k{current_device(), s.x[0], s.x[1], s.x[2], s.x[3], s.w[0], s.w[1], s.w[2], s.w[3],
              s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.dilation_h, s.dilation_w, s.groups,
              static_cast<int64_t>(s.format), static_cast<int64_t>(allow_tf32()),
              static_cast<int64_t>(cudnn_benchmark())};
  std::unique_ptr<Plan>& slot = plans()[k];
  if (!slot) slot = make_plan(s);
  return *slot;
}

// The first result (best first) that succeeded, is deterministic, keeps fp32 exact
// unless TF32 is allowed, and whose workspace (asked with the result's math type set)
// is at most 1 GiB. The results come from cuDNN's heuristics, or with
// cuda::cudnn_benchmark() from timing every algorithm once (cudnnFind*: the fastest,
// chosen per process, so two runs may pick different algorithms, as PyTorch's
// cudnn.benchmark). heuristics(conv, requested, &returned, results) and
// workspace_size(conv, algo, &bytes) wrap the direction's cuDNN queries.
template <class Perf, class Heuristics, class WorkspaceSize>
auto choose(const ConvShape& s, const char* direction, int max_count, const Heuristics& heuristics,
            const WorkspaceSize& workspace_size) {
  auto c = std::make_unique<Choice<decltype(Perf::algo)>>();
  set_conv_descriptor(c->conv, s);
  std::vector<Perf> results(static_cast<size_t>(max_count > 0 ? max_count : 1));
  int returned = 0;
  check(heuristics(c->conv.get(), static_cast<int>(results.size()), &returned, results.data()), direction);
  for (int i = 0; i < returned; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.determinism != CUDNN_DETERMINISTIC) continue;
    if (!allow_tf32() && r.mathType != CUDNN_FMA_MATH) continue;
    check(cudnnSetConvolutionMathType(c->conv.get(), r.mathType), "cudnnSetConvolutionMathType");
    size_t bytes = 0;
    if (workspace_size(c->conv.get(), r.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspace) continue;
    c->algo = r.algo;
    c->workspace = bytes;
    return c;
  }
  throw Error(std::string(direction) + ": cuDNN offers no deterministic algorithm within 1 GiB of workspace for " +
              describe(s));
}

const float kOne = 1.f, kZero = 0.f;

}  // namespace

void conv_forward(const ConvShape& s, const Tensor& x, const Tensor& w, const Tensor& y) {
  Scope scope(x.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  Plan& p = plan(s);
  check_described("conv2d", "x", x, s.x, s.format);
  check_described("conv2d", "weight", w, s.w, s.format);
  check_described("conv2d", "y", y, p.y, s.format);
  cudnnHandle_t h = cudnn();
  if (!p.fwd) {
    int max_count = 0;
    check(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count), "cudnnGetConvolutionForwardAlgorithmMaxCount");
    p.fwd = choose<cudnnConvolutionFwdAlgoPerf_t>(
        s, "cudnnGetConvolutionForwardAlgorithm_v7", max_count,
        [&](cudnnConvolutionDescriptor_t c, int n, int* got, cudnnConvolutionFwdAlgoPerf_t* r) {
          return cudnn_benchmark()
                     ? cudnnFindConvolutionForwardAlgorithm(h, p.x_desc.get(), p.w_desc.get(), c, p.y_desc.get(), n,
                                                            got, r)
                     : cudnnGetConvolutionForwardAlgorithm_v7(h, p.x_desc.get(), p.w_desc.get(), c, p.y_desc.get(), n,
                                                              got, r);
        },
        [&](cudnnConvolutionDescriptor_t c, cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(h, p.x_desc.get(), p.w_desc.get(), c, p.y_desc.get(), a,
                                                         bytes);
        });
  }
  const auto& c = *p.fwd;
  check(cudnnConvolutionForward(h, &kOne, p.x_desc.get(), x.data<float>(), p.w_desc.get(), w.data<float>(),
                                c.conv.get(), c.algo, workspace(c.workspace), c.workspace, &kZero, p.y_desc.get(),
                                y.data<float>()),
        "cudnnConvolutionForward");
}

void conv_backward_data(const ConvShape& s, const Tensor& w, const Tensor& dy, const Tensor& dx) {
  Scope scope(dy.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  Plan& p = plan(s);
  check_described("conv2d", "weight", w, s.w, s.format);
  check_described("conv2d", "dy", dy, p.y, s.format);
  check_described("conv2d", "dx", dx, s.x, s.format);
  cudnnHandle_t h = cudnn();
  if (!p.bwd_data) {
    int max_count = 0;
    check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count),
          "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
    p.bwd_data = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
        s, "cudnnGetConvolutionBackwardDataAlgorithm_v7", max_count,
        [&](cudnnConvolutionDescriptor_t c, int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* r) {
          return cudnn_benchmark() ? cudnnFindConvolutionBackwardDataAlgorithm(h, p.w_desc.get(), p.y_desc.get(), c,
                                                                               p.x_desc.get(), n, got, r)
                                   : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w_desc.get(), p.y_desc.get(), c,
                                                                                 p.x_desc.get(), n, got, r);
        },
        [&](cudnnConvolutionDescriptor_t c, cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w_desc.get(), p.y_desc.get(), c, p.x_desc.get(), a,
                                                              bytes);
        });
  }
  const auto& c = *p.bwd_data;
  check(cudnnConvolutionBackwardData(h, &kOne, p.w_desc.get(), w.data<float>(), p.y_desc.get(), dy.data<float>(),
                                     c.conv.get(), c.algo, workspace(c.workspace), c.workspace, &kZero,
                                     p.x_desc.get(), dx.data<float>()),
        "cudnnConvolutionBackwardData");
}

void conv_backward_filter(const ConvShape& s, const Tensor& x, const Tensor& dy, const Tensor& dw) {
  Scope scope(dy.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  Plan& p = plan(s);
  check_described("conv2d", "x", x, s.x, s.format);
  check_described("conv2d", "dy", dy, p.y, s.format);
  check_described("conv2d", "dw", dw, s.w, s.format);
  cudnnHandle_t h = cudnn();
  if (!p.bwd_filter) {
    int max_count = 0;
    check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count),
          "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
    p.bwd_filter = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
        s, "cudnnGetConvolutionBackwardFilterAlgorithm_v7", max_count,
        [&](cudnnConvolutionDescriptor_t c, int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* r) {
          return cudnn_benchmark() ? cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x_desc.get(), p.y_desc.get(), c,
                                                                                 p.w_desc.get(), n, got, r)
                                   : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x_desc.get(), p.y_desc.get(),
                                                                                   c, p.w_desc.get(), n, got, r);
        },
        [&](cudnnConvolutionDescriptor_t c, cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x_desc.get(), p.y_desc.get(), c, p.w_desc.get(),
                                                                a, bytes);
        });
  }
  const auto& c = *p.bwd_filter;
  check(cudnnConvolutionBackwardFilter(h, &kOne, p.x_desc.get(), x.data<float>(), p.y_desc.get(), dy.data<float>(),
                                       c.conv.get(), c.algo, workspace(c.workspace), c.workspace, &kZero,
                                       p.w_desc.get(), dw.data<float>()),
        "cudnnConvolutionBackwardFilter");
}

void conv_backward_bias(const ConvShape& s, const Tensor& dy, const Tensor& db) {
  Scope scope(dy.device());
  std::lock_guard<std::mutex> lock(g_plans_mutex);
  Plan& p = plan(s);
  check_described("conv2d", "dy", dy, p.y, s.format);
  NF_CHECK(db.device().is_cuda() && db.dtype() == DType::F32 && db.shape() == Shape{s.w[0]} && db.is_contiguous(),
           "conv2d (CUDA): bias gradient must be a dense F32 CUDA tensor [" + std::to_string(s.w[0]) + "], got " +
               db.str());
  check(cudnnConvolutionBackwardBias(cudnn(), &kOne, p.y_desc.get(), dy.data<float>(), &kZero, p.bias_desc.get(),
                                     db.data<float>()),
        "cudnnConvolutionBackwardBias");
}

}  // namespace nf::cuda
