"""ANN architectures built for ANN→SNN conversion (no bias, no batch-norm, average pooling, dropout).

Every model exposes ``body(x, act, drop)``: one forward pass where ``act(i, z)`` is applied at the
``i``-th activation site (ReLU in the ANN, an IF/LIF population in the SNN) and ``drop(i, z)`` at the
``i``-th dropout site.  The output of ``body`` is the last linear layer's output (logits in the ANN,
the current into the non-spiking integrating output layer in the SNN).  The SNN in
:mod:`stdp_toolkit.torch_bridge.snn` reuses the very same weights.
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

__all__ = ["VGG", "ResNet", "MLP", "build_model", "ARCHITECTURES", "VGG_CONFIGS"]

# 'A' = 2x2 average pooling; numbers = 3x3 convolutions with that many output channels (at width 1).
VGG_CONFIGS: Dict[str, List] = {
    "vgg5": [64, "A", 128, 128, "A"],
    "vgg9": [64, 64, "A", 128, 128, "A", 256, 256, 256, "A"],
    "vgg11": [64, "A", 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"],
    "vgg16": [64, 64, "A", 128, 128, "A", 256, 256, 256, "A", 512, 512, 512, "A", 512, 512, 512, "A"],
}
RESNET_CONFIGS: Dict[str, List[int]] = {"resnet8": [1, 1, 1], "resnet14": [2, 2, 2], "resnet20": [3, 3, 3]}
ARCHITECTURES = tuple(VGG_CONFIGS) + tuple(RESNET_CONFIGS) + ("mlp",)

Act = Callable[[int, torch.Tensor], torch.Tensor]


def _relu(_i: int, z: torch.Tensor) -> torch.Tensor:
    return F.relu(z)


class ConvertibleNet(nn.Module):
    """Base class: ``forward`` is the ANN (ReLU + standard dropout)."""

    n_act: int
    dropout_ps: List[float]
    config: dict

    def body(self, x: torch.Tensor, act: Act, drop: Act) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x, _relu, lambda i, z: F.dropout(z, self.dropout_ps[i], self.training))

    def weighted_layers(self) -> List[nn.Module]:
        """Conv2d / Linear layers in execution order."""
        return [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


class VGG(ConvertibleNet):
    """VGG-style network: 3x3 convs (no bias) + ReLU + dropout, 2x2 average pooling, FC classifier.

    ``width`` scales the channel counts (e.g. 0.25 turns 64 into 16) so the same topology fits a
    CPU budget; ``fc`` lists the hidden fully-connected sizes.  Pools that would shrink the feature
    map below 1x1 are skipped (VGG11/16 on 28x28 inputs).
    """

    def __init__(self, arch: str = "vgg5", in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 width: float = 1.0, fc: Sequence[int] = (1024, 1024), dropout_conv: float = 0.2,
                 dropout_fc: float = 0.5):
        super().__init__()
        if arch not in VGG_CONFIGS:
            raise UserError(f"unknown VGG architecture {arch!r}; choose one of {', '.join(VGG_CONFIGS)}")
        self.config = dict(family="vgg", arch=arch, in_channels=in_channels, image_size=image_size,
                           num_classes=num_classes, width=width, fc=list(fc), dropout_conv=dropout_conv,
                           dropout_fc=dropout_fc)
        self.ops: List[tuple] = []
        convs = []
        size, ch = image_size, in_channels
        self.dropout_ps = []
        for item in VGG_CONFIGS[arch]:
            if item == "A":
                if size >= 2:
                    self.ops.append(("pool",))
                    size //= 2
            else:
                out = max(1, int(round(item * width)))
                convs.append(nn.Conv2d(ch, out, 3, padding=1, bias=False))
                self.ops.append(("conv", len(convs) - 1))
                self.dropout_ps.append(dropout_conv)
                ch = out
        self.convs = nn.ModuleList(convs)
        sizes = [ch * size * size] + list(fc) + [num_classes]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout_ps += [dropout_fc] * len(fc)
        self.n_act = len(convs) + len(fc)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def body(self, x, act, drop):
        i = 0
        for op in self.ops:
            if op[0] == "conv":
                x = drop(i, act(i, self.convs[op[1]](x)))
                i += 1
            else:
                x = F.avg_pool2d(x, 2)
        x = x.flatten(1)
        for j, fc in enumerate(self.fcs):
            x = fc(x)
            if j < len(self.fcs) - 1:
                x = drop(i, act(i, x))
                i += 1
        return x


class MLP(ConvertibleNet):
    """Fully-connected network (e.g. 784-100-10), the one exported to Brian2."""

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (100,), num_classes: int = 10,
                 dropout: float = 0.0, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.config = dict(family="mlp", arch="mlp", in_features=in_features, hidden=list(hidden),
                           num_classes=num_classes, dropout=dropout, in_channels=in_channels, image_size=image_size)
        sizes = [in_features] + list(hidden) + [num_classes]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout_ps = [dropout] * len(hidden)
        self.n_act = len(hidden)

    def body(self, x, act, drop):
        x = x.flatten(1)
        for j, fc in enumerate(self.fcs):
            x = fc(x)
            if j < len(self.fcs) - 1:
                x = drop(j, act(j, x))
        return x


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class ResNet(ConvertibleNet):
    """Small ResNet without batch-norm or bias (resnet8/14/20 = 1/2/3 basic blocks per stage).

    Stem: one 3x3 conv; three stages of basic blocks (``conv-act-conv + shortcut -> act``), the second
    and third downsample with stride 2 and a 1x1 conv shortcut; global average pooling; one linear
    layer.  In the SNN the residual sum is the input current of the block's second population.
    """

    def __init__(self, arch: str = "resnet8", in_channels: int = 3, image_size: int = 32, num_classes: int = 10,
                 width: float = 1.0, dropout: float = 0.1):
        super().__init__()
        if arch not in RESNET_CONFIGS:
            raise UserError(f"unknown ResNet architecture {arch!r}; choose one of {', '.join(RESNET_CONFIGS)}")
        self.config = dict(family="resnet", arch=arch, in_channels=in_channels, image_size=image_size,
                           num_classes=num_classes, width=width, dropout=dropout)
        widths = [max(1, int(round(w * width))) for w in (16, 32, 64)]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        blocks = []
        cin = widths[0]
        for stage, (n, w) in enumerate(zip(RESNET_CONFIGS[arch], widths)):
            for b in range(n):
                blocks.append(_Block(cin, w, 2 if (stage > 0 and b == 0) else 1))
                cin = w
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, num_classes, bias=False)
        self.n_act = 1 + 2 * len(blocks)
        self.dropout_ps = [dropout] * self.n_act
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Scale the last conv of each block down so the residual sum starts near the identity.
        for blk in self.blocks:
            blk.conv2.weight.data.mul_(0.5)

    def body(self, x, act, drop):
        i = 0
        x = drop(i, act(i, self.stem(x)))
        i += 1
        for blk in self.blocks:
            h = drop(i, act(i, blk.conv1(x)))
            i += 1
            sc = x if blk.shortcut is None else blk.shortcut(x)
            x = drop(i, act(i, blk.conv2(h) + sc))
            i += 1
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build_model(config: dict) -> ConvertibleNet:
    """Rebuild a model from its ``config`` dict (as stored in checkpoints).

    A key the model family does not take is a :class:`UserError` naming it and the known ones.
    """
    cfg = dict(config)
    family = cfg.pop("family", None)
    classes = {"vgg": VGG, "resnet": ResNet, "mlp": MLP}
    if family not in classes:
        raise UserError(f"unknown model family {family!r} in checkpoint; expected one of {', '.join(classes)}")
    if family == "mlp":
        cfg.pop("arch", None)
    known = list(inspect.signature(classes[family].__init__).parameters)[1:]
    unknown = [k for k in cfg if k not in known]
    if unknown:
        raise UserError(f"the {family} model has no option {', '.join(map(repr, unknown))}; "
                        f"its options are {', '.join(known)}")
    return classes[family](**cfg)
