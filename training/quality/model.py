"""MobileNetV2 (Sandler et al. 2018) in plain torch, with a regression head for the eight regional scores.

Input: (N, 1, 256, 256) float32 raw 0-255 grey values (normalised inside the network); output: (N, 8)
scores on the 1-5 scale in the canonical region order (echoquality.core.vocabulary.REGION_NAMES).
"""
from __future__ import annotations

import torch
from torch import nn

N_OUTPUTS = 8
# (expansion t, channels c, repeats n, stride s) of the MobileNetV2 paper, Table 2.
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(value: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of divisor (never below 90% of value), as in the reference code."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(c_out)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise 3x3, linear project (1x1); residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int):
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = [conv_bn(c_in, hidden, 1, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, c_out, 1, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV2Quality(nn.Module):
    """MobileNetV2 backbone (width multiplier `width`) + global pooling + dropout + linear (8 scores)."""

    def __init__(self, width: float = 0.5, dropout: float = 0.2, last_channels: int = 1280, pre_pool: int = 1):
        super().__init__()
        self.width = width
        self.pre_pool = pre_pool   # >1: area-average the 256x256 input by this factor first (speed)
        c = _divisible(32 * width)
        layers: list[nn.Module] = [conv_bn(1, c, 3, 2)]
        for t, ch, n, s in INVERTED_RESIDUAL_SETTING:
            out = _divisible(ch * width)
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        last = _divisible(last_channels * max(1.0, width))
        layers.append(conv_bn(c, last, 1, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, N_OUTPUTS))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.head[1].weight, 0, 0.01)
        nn.init.constant_(self.head[1].bias, 3.0)   # middle of the 1-5 scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 127.5 - 1.0                          # raw 0-255 -> -1..1 inside the graph
        if self.pre_pool > 1:
            x = nn.functional.avg_pool2d(x, self.pre_pool)
        x = self.features(x).mean(dim=(2, 3))
        return self.head(x)


def build_model(width: float = 0.5, last_channels: int = 1280, pre_pool: int = 1) -> MobileNetV2Quality:
    return MobileNetV2Quality(width=width, last_channels=last_channels, pre_pool=pre_pool)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class RegionalQualityNet(MobileNetV2Quality):
    """MobileNetV2 backbone with a regional head: a coarse quality map Q and eight region-attention maps A_r
    (8x8 cells, from the stride-16 features and the upsampled final features); score_r = sum softmax(A_r) Q.

    At inference the network sees only the image. In training, A_r is also fitted to the region masks and Q
    to the regions' labels (auxiliary targets), which teaches where each region lies and what its quality is.
    """

    MID_BLOCK = 13   # last block of the 96-channel stage (stride 16)

    def __init__(self, width: float = 0.5, last_channels: int = 1280, pre_pool: int = 2, hidden: int = 96):
        super().__init__(width=width, last_channels=last_channels, pre_pool=pre_pool)
        mid = _divisible(96 * width)
        last = _divisible(last_channels * max(1.0, width))
        self.regional = nn.Sequential(nn.Conv2d(mid + last, hidden, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(hidden, 1 + N_OUTPUTS, 1))
        nn.init.zeros_(self.regional[-1].weight)
        nn.init.constant_(self.regional[-1].bias, 0.0)
        with torch.no_grad():
            self.regional[-1].bias[0] = 3.0

    def maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(quality map (N,1,h,w) on the 1-5 scale, region-attention logits (N,8,h,w))."""
        x = x / 127.5 - 1.0
        if self.pre_pool > 1:
            x = nn.functional.avg_pool2d(x, self.pre_pool)
        mid = self.features[:self.MID_BLOCK + 1](x)
        deep = self.features[self.MID_BLOCK + 1:](mid)
        deep = nn.functional.interpolate(deep, size=mid.shape[2:], mode="nearest")
        out = self.regional(torch.cat([mid, deep], dim=1))
        return out[:, :1], out[:, 1:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        quality, attention = self.maps(x)
        weights = torch.softmax(attention.flatten(2), dim=2)                  # (N, 8, h*w)
        return (weights * quality.flatten(2)).sum(dim=2)                       # (N, 8)


def build_regional_model(width: float = 0.5, pre_pool: int = 2) -> RegionalQualityNet:
    return RegionalQualityNet(width=width, pre_pool=pre_pool)


class MirrorAveraged(nn.Module):
    """Test-time mirroring inside the graph: mean of the scores of the frame and of its mirror image
    (outputs of the mirror image put back in the canonical order, left and right swapped)."""

    MIRROR_ORDER = (5, 4, 3, 2, 1, 0, 7, 6)

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = self.model(torch.cat([x, torch.flip(x, dims=[3])], dim=0))
        n = x.shape[0]
        return 0.5 * (both[:n] + both[n:][:, list(self.MIRROR_ORDER)])
