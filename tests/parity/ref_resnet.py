"""ResNet-20 (CIFAR, projection shortcuts, torchvision names) in PyTorch: logits and
every parameter gradient of one training step, then three SGD steps (Nesterov,
weight decay) and the resulting weights and BN buffers, then eval-mode logits."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import nfref


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet20(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for i, w in enumerate([16, 32, 64]):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(cin, w, 2 if (i > 0 and b == 0) else 1))
                cin = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def trajectory(model, xs, ys, dtype, dump, prefix):
    """Three SGD steps (Nesterov, weight decay) in `dtype`; dumps logits and gradients
    per step and the state after step 0 and after step 2."""
    model = model.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    for step in range(3):
        opt.zero_grad()
        logits = model(xs[step].to(dtype))
        F.cross_entropy(logits, ys[step]).backward()
        dump[f"{prefix}logits{step}"] = logits.float()
        for name, p in model.named_parameters():
            dump[f"{prefix}grad{step}.{name}"] = p.grad.float().clone()
        opt.step()
        if step == 0:
            dump.update({f"{prefix}after0.{k}": v.clone() if v.dtype == torch.int64 else v.float().clone()
                         for k, v in model.state_dict().items()})
    dump.update({f"{prefix}final.{k}": v if v.dtype == torch.int64 else v.float() for k, v in model.state_dict().items()})
    return model


def make(out):
    model = ResNet20()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    xs = [torch.randn(8, 3, 32, 32) for _ in range(4)]
    ys = [torch.randint(0, 10, (8,)) for _ in range(4)]
    dump = {f"init.{k}": v for k, v in init.items()}
    for step in range(3):
        dump[f"x{step}"], dump[f"y{step}"] = xs[step], ys[step]
    # The same trajectory in float64: how far float32 arithmetic itself drifts.
    model64 = ResNet20()
    model64.load_state_dict(init)
    trajectory(model64, xs, ys, torch.float64, dump, "f64.")
    model = trajectory(model, xs, ys, torch.float32, dump, "")
    model.eval()
    with torch.no_grad():
        dump["x_eval"], dump["eval_logits"] = xs[3], model(xs[3])
    nfref.save(out / "resnet20.safetensors", dump)
