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


def make(out):
    """Three SGD steps (Nesterov, weight decay) in train mode. Per step k: the input, the
    logits, every parameter gradient, and the state after the step (weights, BN buffers,
    momentum buffers), so each step can be checked from PyTorch's own state before it."""
    model = ResNet20()
    xs = [torch.randn(8, 3, 32, 32) for _ in range(4)]
    ys = [torch.randint(0, 10, (8,)) for _ in range(4)]
    dump = {f"init.{k}": v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    names = {p: n for n, p in model.named_parameters()}
    model.train()
    for step in range(3):
        opt.zero_grad()
        logits = model(xs[step])
        F.cross_entropy(logits, ys[step]).backward()
        dump[f"x{step}"], dump[f"y{step}"], dump[f"logits{step}"] = xs[step], ys[step], logits
        for name, p in model.named_parameters():
            dump[f"grad{step}.{name}"] = p.grad.clone()
        opt.step()
        dump.update({f"after{step}.{k}": v.clone() for k, v in model.state_dict().items()})
        for p, st in opt.state.items():
            dump[f"after{step}.momentum_buffer.{names[p]}"] = st["momentum_buffer"].clone()
    model.eval()
    with torch.no_grad():
        dump["x_eval"], dump["eval_logits"] = xs[3], model(xs[3])
    nfref.save(out / "resnet20.safetensors", dump)
