// The fusion pass: walks every Sequential of a built model and marks the runs of
// children that execute as one call (Sequential::Step), so any network built from
// the layer registry gets what the ResNets' blocks do by hand:
//   Conv2d, BatchNorm2d [, ReLU]  -> conv_bn: in training conv then BN with the ReLU
//   Conv2d, ReLU                     fused; in evaluation BN folded into the conv and
//                                    the ReLU a post-op of the convolution
//   BatchNorm, ReLU               -> BatchNorm::forward_fused (one pass)
//   Residual, ReLU                -> Residual::forward_relu, with the body's last
//                                    [Conv2d,] BatchNorm (or last Conv2d) taking the
//                                    shortcut as the residual: the add and ReLU run
//                                    inside BN (or as the convolution's post-ops)
// Parameter names, training results and gradients are unchanged; evaluation with
// folding differs from the unfused one by float rounding (~1e-6 relative).
// Every skipped module's forward hook still runs, so summaries list it. The pass asks
// each module its FusionRole (layers/module.h) instead of its class: a layer takes part
// by declaring its role.
#pragma once
#include "layers/module.h"

namespace nf {

void fuse_model(Module& model);

// BatchNorm folding, for deployment (`normforge export`, recipe key model.folded): every
// BatchNorm2d with running statistics directly after a Conv2d whose output nothing else
// reads (in one Sequential; in a residual body, not where the shortcut branches off)
// is removed, and the Conv2d replaced by a biased one computing both (folded_conv, in
// double then rounded): state_dict loses the BatchNorm's tensors and gains the
// convolution's "bias", other names unchanged. Evaluation equals the unfolded model's
// up to float rounding. Runs fuse_model again.
void fold_batch_norms(Module& model);

}  // namespace nf
