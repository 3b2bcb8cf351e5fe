// Optimizers: SGD and AdamW trajectories against PyTorch 1.13 (tests/parity/ref_optim.py),
// state_dict round trips that resume bitwise, skipped parameters and the update's
// argument checks, per device (device_test.h); state_dict names and validation, options,
// and the CPU update's threaded loop against small pieces (host).
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "device_test.h"
#include "framework/ops/optimizer_update.h"
#include "framework/optim/adamw.h"
#include "framework/optim/sgd.h"

using namespace nf;
using namespace nf::test;
using namespace nf::optim;

namespace {

constexpr int kSteps = 5;
const std::vector<std::string> kNames = {"layer1.0.conv1.weight", "layer1.0.bn1.weight", "fc.weight", "fc.bias"};
const std::vector<std::string> kNoDecay = {"layer1.0.bn1.weight", "fc.bias"};

NamedTensors initial_params(const io::TensorDict& in, Device d) {
  NamedTensors ps;
  for (const std::string& n : kNames) ps.emplace_back(n, to_device(d, param(in.at("param." + n))));
  return ps;
}

// Same split as ref_optim.py's "groups" configs: the no-decay parameters form group 2.
std::vector<ParamGroup> two_groups(const NamedTensors& ps, double lr, double wd, double lr2, double wd2) {
  ParamGroup g1{{}, lr, wd}, g2{{}, lr2, wd2};
  for (const auto& np : ps)
    (std::find(kNoDecay.begin(), kNoDecay.end(), np.first) != kNoDecay.end() ? g2 : g1).params.push_back(np);
  return {g1, g2};
}

void feed_grads(const NamedTensors& ps, const io::TensorDict& in, int k) {
  for (const auto& [n, p] : ps)
    p.impl()->grad = in.at("grad." + std::to_string(k) + "." + n).clone().to(p.device()).impl_ptr();
}

size_t count_bitwise_equal(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  size_t eq = 0;
  for (size_t i = 0; i < x.size(); ++i) eq += std::memcmp(&x[i], &y[i], sizeof(float)) == 0;
  return eq;
}

// Runs kSteps of `opt` over the reference gradients and compares every step and the
// final buffers with the PyTorch dump optim_<config>.
void check_trajectory(const std::string& config, Optimizer& opt, const NamedTensors& ps,
                      const std::vector<std::string>& kinds) {
  SCOPED_TRACE(config);
  io::TensorDict in = load_ref("optim_inputs"), ref = load_ref("optim_" + config);
  size_t equal = 0, total = 0;
  auto compare = [&](const std::string& what, const Tensor& actual, const Tensor& expected) {
    expect_close(config + " " + what, actual, expected, 1e-6, 1e-7);
    equal += count_bitwise_equal(actual, expected);
    total += actual.numel();
  };
  for (int k = 0; k < kSteps; ++k) {
    feed_grads(ps, in, k);
    opt.step();
    for (const auto& [n, p] : ps) compare("step" + std::to_string(k) + "." + n, p, ref.at("step" + std::to_string(k) + "." + n));
  }
  io::TensorDict state = opt.state_dict();
  EXPECT_EQ(state.at("step").to_int_vector()[0], kSteps);
  for (const std::string& kind : kinds)
    for (const std::string& n : kNames) compare(kind + "." + n, state.at(kind + "." + n), ref.at(kind + "." + n));
  std::printf("[bitwise] %-20s %zu of %zu values equal to PyTorch bitwise\n", config.c_str(), equal, total);
  EXPECT_EQ(equal, total) << "SGD and AdamW are bitwise equal to torch.optim (same fused multiply-adds)";
}

}  // namespace

NF_DEVICE_TEST_SUITE(OptimParity);
NF_DEVICE_TEST_SUITE(OptimResume);
NF_DEVICE_TEST_SUITE(OptimSkips);
NF_DEVICE_TEST_SUITE(OptimUpdateChecks);

TEST_P(OptimParity, SgdMatchesPyTorch) {
  io::TensorDict in = load_ref("optim_inputs");
  struct Config {
    std::string name;
    SgdOptions o;
  };
  const std::vector<Config> configs = {
      {"sgd_momentum", {.lr = 0.1, .momentum = 0.9}},
      {"sgd_nesterov_wd", {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true}},
      {"sgd_dampening", {.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-4}},
      {"sgd_plain", {.lr = 0.1, .weight_decay = 5e-4}},
  };
  for (const Config& c : configs) {
    NamedTensors ps = initial_params(in, device());
    SGD opt(ps, c.o);
    check_trajectory(c.name, opt, ps, c.o.momentum != 0 ? std::vector<std::string>{"momentum_buffer"}
                                                          : std::vector<std::string>{});
  }
  NamedTensors ps = initial_params(in, device());
  SGD grouped(two_groups(ps, 0.1, 5e-4, 0.02, 0.0), {.lr = 0.1, .momentum = 0.9});
  check_trajectory("sgd_groups", grouped, ps, {"momentum_buffer"});
}

TEST_P(OptimParity, AdamWMatchesPyTorch) {
  io::TensorDict in = load_ref("optim_inputs");
  NamedTensors a = initial_params(in, device()), b = initial_params(in, device()), c = initial_params(in, device());
  AdamW plain(a, {});
  check_trajectory("adamw", plain, a, {"exp_avg", "exp_avg_sq"});
  AdamW custom(b, {.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1});
  check_trajectory("adamw_custom", custom, b, {"exp_avg", "exp_avg_sq"});
  AdamW grouped(two_groups(c, 1e-2, 5e-2, 3e-3, 0.0), {});
  check_trajectory("adamw_groups", grouped, c, {"exp_avg", "exp_avg_sq"});
}

// Save after 3 steps (through a safetensors file), restore into a fresh optimizer over
// restored parameters, continue 2 steps: bitwise equal to 5 uninterrupted steps.
template <class Opt, class Options>
void check_resume(Device d, const std::string& what, const Options& o) {
  SCOPED_TRACE(what);
  io::TensorDict in = load_ref("optim_inputs");
  NamedTensors full = initial_params(in, d), part = initial_params(in, d);
  Opt uninterrupted(full, o);
  for (int k = 0; k < kSteps; ++k) {
    feed_grads(full, in, k);
    uninterrupted.step();
  }
  Opt first(part, o);
  for (int k = 0; k < 3; ++k) {
    feed_grads(part, in, k);
    first.step();
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("nf_optim_resume_" + what + "_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  io::save_safetensors(path, first.state_dict());
  NamedTensors resumed;
  for (const auto& [n, p] : part) resumed.emplace_back(n, param(p.detach()));
  Opt second(resumed, o);
  second.load_state_dict(io::load_safetensors(path));
  std::filesystem::remove(path);
  EXPECT_EQ(second.step_count(), 3);
  for (int k = 3; k < kSteps; ++k) {
    feed_grads(resumed, in, k);
    second.step();
  }
  for (size_t i = 0; i < full.size(); ++i) expect_bitwise_equal(what + " " + full[i].first, resumed[i].second, full[i].second);
  io::TensorDict s1 = uninterrupted.state_dict(), s2 = second.state_dict();
  ASSERT_EQ(s1.size(), s2.size());
  for (const auto& [key, t] : s1) expect_bitwise_equal(what + " state " + key, s2.at(key), t);
}

TEST_P(OptimResume, StateRoundTripResumesBitwise) {
  check_resume<SGD>(device(), "sgd_nesterov",
                    SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
  check_resume<AdamW>(device(), "adamw", AdamWOptions{.lr = 0.01});
}

TEST(OptimState, StateDictNamesBuffersByParameter) {
  Tensor w = param(randn({3, 2}, 1)), b = param(randn({3}, 2));
  AdamW opt(NamedTensors{{"fc.weight", w}, {"fc.bias", b}}, {});
  w.set_grad(randn({3, 2}, 3));  // b gets no gradient: no state, as in PyTorch
  opt.step();
  io::TensorDict s = opt.state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, t] : s) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"exp_avg.fc.weight", "exp_avg_sq.fc.weight", "step", "step.fc.weight"}));
  EXPECT_EQ(s.at("step").dtype(), DType::I64);
  EXPECT_EQ(s.at("step").dim(), 0);
}

TEST(OptimState, LoadValidatesNamesShapesAndDtypes) {
  Tensor w = param(randn({3, 2}, 1));
  SGD opt(NamedTensors{{"fc.weight", w}}, {.lr = 0.1, .momentum = 0.9});
  w.set_grad(randn({3, 2}, 2));
  opt.step();
  const io::TensorDict good = opt.state_dict();
  auto expect_error = [&](const std::string& what, io::TensorDict d, const std::string& needle) {
    try {
      opt.load_state_dict(d);
      ADD_FAILURE() << what << ": no error";
    } catch (const Error& e) {
      std::printf("[error] %s\n", e.what());
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << what << ": " << e.what();
    }
  };
  io::TensorDict d = good;
  d.erase("step");
  expect_error("missing step", d, "missing 'step'");
  d = good;
  d["step"] = Tensor::scalar(3.0);
  expect_error("F32 step", d, "'step' must be an I64 scalar");
  d = good;
  d["exp_avg.fc.weight"] = Tensor::zeros({3, 2});
  expect_error("foreign kind", d, "unknown key 'exp_avg.fc.weight'");
  d = good;
  d["momentum_buffer.fc.bias"] = Tensor::zeros({3});
  expect_error("unknown parameter", d, "'momentum_buffer.fc.bias' names no parameter");
  d = good;
  d["momentum_buffer.fc.weight"] = Tensor::zeros({2, 3});
  expect_error("wrong shape", d, "has shape [2, 3], parameter has [3, 2]");
  d = good;
  d["momentum_buffer.fc.weight"] = Tensor::zeros({3, 2}, DType::I64);
  expect_error("wrong dtype", d, "must be F32");
  // A failed load changes nothing; a good one restores the step count.
  EXPECT_EQ(opt.step_count(), 1);
  opt.load_state_dict(good);
  EXPECT_EQ(opt.step_count(), 1);

  AdamW adam(NamedTensors{{"fc.weight", w}}, {});
  adam.step();
  d = adam.state_dict();
  d.erase("exp_avg_sq.fc.weight");
  EXPECT_THROW(adam.load_state_dict(d), Error);
  SGD plain(NamedTensors{{"fc.weight", w}}, {});
  EXPECT_THROW(plain.load_state_dict(good), Error);  // momentum buffers into momentum-free SGD
}

TEST_P(OptimSkips, SkipsFrozenAndGradlessParametersAndNeverTouchesGrads) {
  Tensor frozen = dparam(randn({5, 3}, 1)), gradless = dparam(randn({7}, 2)), live = dparam(randn({4, 3}, 3));
  frozen.set_requires_grad(false);
  frozen.set_grad(dev(randn({5, 3}, 4)));  // a stale gradient must not be applied
  live.set_grad(dev(randn({4, 3}, 5)));
  const Tensor frozen0 = frozen.clone(), gradless0 = gradless.clone(), grad0 = live.grad().clone(), live0 = live.clone();
  NamedTensors ps{{"frozen", frozen}, {"gradless", gradless}, {"live", live}};
  SGD sgd(ps, {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2});
  AdamW adamw(ps, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    sgd.step();
    adamw.step();
  }
  expect_bitwise_equal("frozen", frozen, frozen0);
  expect_bitwise_equal("gradless", gradless, gradless0);
  expect_bitwise_equal("grad untouched", live.grad(), grad0);
  EXPECT_NE(host(live).to_vector(), host(live0).to_vector());
  EXPECT_EQ(sgd.state_dict().size(), 2u);  // "step" and live's momentum buffer only
  EXPECT_EQ(adamw.state_dict().size(), 4u);
  sgd.zero_grad();
  EXPECT_FALSE(live.grad().defined());
  EXPECT_FALSE(frozen.grad().defined());
}

TEST(OptimSgd, SetLrKeepsGroupRatios) {
  NamedTensors a{{"a", param(randn({2}, 1))}}, b{{"b", param(randn({2}, 2))}};
  SGD opt(std::vector<ParamGroup>{{a, 0.1, 5e-4}, {b, 0.02, 0}}, {.momentum = 0.9});
  opt.set_lr(0.5);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr, 0.1);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].weight_decay, 0);
  EXPECT_THROW(opt.set_lr(-1), Error);
}

TEST(OptimSgd, InvalidOptionsThrowClearErrors) {
  NamedTensors ps{{"w", param(randn({2}, 1))}};
  auto msg = [](auto&& make) {
    try {
      make();
    } catch (const Error& e) {
      std::printf("[error] %s\n", e.what());
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([&] { SGD(ps, {.lr = 0.1, .nesterov = true}); }).find("Nesterov momentum requires"), std::string::npos);
  EXPECT_NE(msg([&] { SGD(ps, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }).find("zero dampening"),
            std::string::npos);
  EXPECT_NE(msg([&] { SGD(ps, {.lr = -1}); }).find("invalid learning rate"), std::string::npos);
  EXPECT_NE(msg([&] { SGD(ps, {.momentum = -0.5}); }).find("invalid momentum"), std::string::npos);
  EXPECT_NE(msg([&] { SGD(ps, {.weight_decay = -1}); }).find("invalid weight_decay"), std::string::npos);
  EXPECT_NE(msg([&] { SGD(NamedTensors{}, {}); }).find("empty parameter list"), std::string::npos);
  EXPECT_NE(msg([&] { SGD(NamedTensors{ps[0], ps[0]}, {}); }).find("appears twice"), std::string::npos);
  EXPECT_NE(msg([&] { AdamW(ps, {.beta1 = 1.0}); }).find("beta parameter at index 0"), std::string::npos);
  EXPECT_NE(msg([&] { AdamW(ps, {.beta2 = -0.1}); }).find("beta parameter at index 1"), std::string::npos);
  EXPECT_NE(msg([&] { AdamW(ps, {.eps = -1}); }).find("invalid epsilon"), std::string::npos);
}

TEST_P(OptimUpdateChecks, ChecksShapesAndDtypes) {
  auto randn = [this](const Shape& s, uint64_t seed) { return dev(test::randn(s, seed)); };
  const Device d = device();
  Tensor p = randn({4, 3}, 1), buf = Tensor::zeros({4, 3}, DType::F32, d), m = Tensor::zeros({4, 3}, DType::F32, d);
  Tensor v = Tensor::zeros({4, 3}, DType::F32, d), bad = randn({3, 4}, 2);
  EXPECT_THROW(ops::sgd_update(p, bad, buf, {.momentum = 0.9}, true), Error);
  EXPECT_THROW(ops::sgd_update(p, randn({4, 3}, 3), bad, {.momentum = 0.9}, false), Error);
  EXPECT_THROW(ops::sgd_update(p, Tensor::zeros({4, 3}, DType::I64, d), buf, {}, false), Error);
  EXPECT_THROW(ops::adamw_update(p, randn({4, 3}, 3), m, bad, {}, 1), Error);
  EXPECT_THROW(ops::adamw_update(p, randn({4, 3}, 3), m, v, {}, 0), Error);
}

// Tensors above the parallel threshold go through the threaded loop: the result must
// equal updating the same values in small (serial) pieces, bitwise.
TEST(OptimUpdate, LargeTensorsMatchSmallPiecesBitwise) {
  const int64_t n = 200003, piece = 1000;
  Tensor p = randn({n}, 1), g = randn({n}, 2), buf = randn({n}, 3), m = randn({n}, 4, 0.1f);
  Tensor v = uniform({n}, 5, 0.f, 0.1f);
  Tensor p2 = p.clone(), buf2 = buf.clone(), m2 = m.clone(), v2 = v.clone();
  ops::SgdHyper sh{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true};
  ops::AdamWHyper ah{.lr = 0.01};
  ops::sgd_update(p, g, buf, sh, false);
  ops::adamw_update(p, g, m, v, ah, 7);
  for (int64_t s = 0; s < n; s += piece) {
    const int64_t len = std::min(piece, n - s);
    auto part = [&](const Tensor& t) {
      return Tensor(std::make_shared<TensorImpl>(TensorImpl{t.storage(), s, {len}, {1}, DType::F32}));
    };
    Tensor pp = part(p2), pb = part(buf2), pm = part(m2), pv = part(v2);
    ops::sgd_update(pp, part(g), pb, sh, false);
    ops::adamw_update(pp, part(g), pm, pv, ah, 7);
  }
  expect_bitwise_equal("param", p, p2);
  expect_bitwise_equal("momentum_buffer", buf, buf2);
  expect_bitwise_equal("exp_avg", m, m2);
  expect_bitwise_equal("exp_avg_sq", v, v2);
}
