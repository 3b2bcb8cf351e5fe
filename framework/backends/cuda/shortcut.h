// Launchers for ops/shortcut.cpp's shortcut_pad on the GPU. x [N, C, H, W] and
// y [N, Co, Ho, Wo] are dense F32 device tensors of one memory format, described by their
// logical NCHW sizes and strides (in elements); channels_last says which format, only to
// walk memory in order. The C channels of x sit at offset (Co - C) / 2 of y.
//   forward:  y[n, co, i, j] = x[n, co - off, i*s, j*s] where 0 <= co - off < C, else 0
//   backward: dx[n, c, h, w] = g[n, c + off, h/s, w/s] where h % s == 0 and w % s == 0, else 0
// Both write every output element once (a gather: no zeroing pass, no atomics).
// Run on the current device's stream (the caller holds a cuda::Scope).
#pragma once
#include <cstdint>

namespace nf::cuda {

struct Nchw {  // a 4-d tensor's sizes and strides, in NCHW order
  int64_t size[4];
  int64_t stride[4];
};

void shortcut_pad_forward(const float* x, const Nchw& xd, float* y, const Nchw& yd, int64_t stride,
                          bool channels_last);
void shortcut_pad_backward(const float* g, const Nchw& gd, float* dx, const Nchw& dxd, int64_t stride,
                           bool channels_last);

}  // namespace nf::cuda
