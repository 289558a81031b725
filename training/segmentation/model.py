"""Compact U-Net for 256x256 apical echo frames -> {background, LV, MYO, LA} scores.

The network takes the app's contract directly: (N, 1, 256, 256) float32 with raw 0-255 gray
values; intensity scaling lives inside the graph so the exported ONNX needs no preprocessing.
Speed comes from a stride-2 stem (all features at 128x128 or coarser), depthwise-separable
convolutions, and a final bilinear x2 upsampling of the class scores.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

N_CLASSES = 4
INPUT_MEAN = 50.0   # rough mean / std of CAMUS-like B-mode gray values (0-255)
INPUT_STD = 50.0


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv + BatchNorm + ReLU (BatchNorm folds into the conv at export)."""
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SeparableBlock(nn.Module):
    """Depthwise 3x3 (optionally strided/dilated) + pointwise 1x1, each with BN+ReLU; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.dw = conv_bn_relu(cin, cin, 3, stride, groups=cin, dilation=dilation)
        self.pw = conv_bn_relu(cin, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class Stage(nn.Module):
    """A strided separable block followed by `depth - 1` plain ones."""

    def __init__(self, cin: int, cout: int, depth: int, stride: int = 2, dilations: tuple[int, ...] = ()):
        super().__init__()
        blocks = [SeparableBlock(cin, cout, stride)]
        for i in range(depth - 1):
            blocks.append(SeparableBlock(cout, cout, 1, dilations[i] if i < len(dilations) else 1))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Decoder(nn.Module):
    """Upsample x2, add a 1x1-projected skip, refine with a separable block."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.reduce = conv_bn_relu(cin, cout, 1)
        self.skip = conv_bn_relu(cskip, cout, 1)
        self.refine = SeparableBlock(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.reduce(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.refine(x + self.skip(skip))


class EchoSegLite(nn.Module):
    """Stride-2 stem, four separable encoder stages (64..8 px), additive-skip decoder back to 128 px."""

    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 64, 96), depths: tuple[int, ...] = (1, 2, 2, 3),
                 n_classes: int = N_CLASSES, full_res: int = 0):
        super().__init__()
        w0 = widths[0]
        self.full_res = full_res
        if full_res:   # a thin full-resolution path: skip features at 256 px and a refinement there
            self.fine = conv_bn_relu(1, full_res, 3)
            self.fine_reduce = conv_bn_relu(w0, full_res, 1)
            self.fine_refine = SeparableBlock(full_res, full_res)
        self.stem = nn.Sequential(conv_bn_relu(1, w0, 3, 2), SeparableBlock(w0, w0))          # 128
        self.enc = nn.ModuleList()
        for i, depth in enumerate(depths):
            dil = (2, 4) if i == len(depths) - 1 else ()
            self.enc.append(Stage(widths[i], widths[i + 1], depth, 2, dil))                   # 64,32,16,8
        self.dec = nn.ModuleList(
            Decoder(widths[i + 1], widths[i], widths[i])
            for i in reversed(range(len(depths))))
        self.head = nn.Conv2d(full_res or w0, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - INPUT_MEAN) * (1.0 / INPUT_STD)
        skips = [self.stem(x)]
        for stage in self.enc:
            skips.append(stage(skips[-1]))
        y = skips[-1]
        for dec, skip in zip(self.dec, reversed(skips[:-1])):
            y = dec(y, skip)
        if self.full_res:
            y = F.interpolate(self.fine_reduce(y), scale_factor=2.0, mode="bilinear", align_corners=False)
            return self.head(self.fine_refine(y + self.fine(x)))
        return F.interpolate(self.head(y), scale_factor=2.0, mode="bilinear", align_corners=False)


def build_model(widths: tuple[int, ...] = (16, 24, 48, 64, 96), depths: tuple[int, ...] = (1, 2, 2, 3),
                full_res: int = 0) -> EchoSegLite:
    """The network with the given per-stage widths (stem first), encoder depths and full-resolution width (0: none)."""
    return EchoSegLite(tuple(widths), tuple(depths), full_res=full_res)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
