"""Region-pooled quality network: each region is scored only from image features pooled inside its own mask.

Inputs: `input` (N, 1, 256, 256) float32 raw grey values 0-255 (the network view of the frame) and `regions`
(N, 1, 256, 256) float32 region map (0 none, 1..8 in the canonical order of REGION_NAMES). Output `quality`
(N, 8): scores on the 1-5 scale (empty regions get the score of an empty pooling, to be masked by the caller).

Backbone: the first stages of MobileNetV2 (Sandler et al. 2018; width 0.5, `model.InvertedResidual`) on the
input area-averaged to 128x128; features at strides 16, 32 and 64 of the 256 grid are brought to a 16x16 grid
and mixed by a 1x1 convolution. Region r's feature vector is the mean of that grid weighted by the share of
each cell covered by region r; one small head shared by all regions turns it into a score 1 + 4 sigmoid(.).
The same head scores every region and the region's identity never enters it, so a score can only come from
what the image shows where that region lies, never from which region it is.
"""
from __future__ import annotations

import torch
from torch import nn

from .model import InvertedResidual, _divisible, conv_bn

N_REGIONS = 8
CELL = 16            # pooling cells of 16x16 input pixels: a 16x16 grid at 256x256
# (expansion, channels, repeats, stride) as MobileNetV2 up to the 96-channel stage, and one 160 block.
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 3, 2), (6, 96, 2, 1), (6, 160, 1, 2))


class RegionPooledQuality(nn.Module):
    def __init__(self, width: float = 0.5, hidden: int = 64, pre_pool: int = 2):
        super().__init__()
        self.pre_pool = pre_pool
        c = _divisible(32 * width)
        self.stem = conv_bn(1, c, 3, 2)
        blocks: list[nn.Module] = []
        self.taps: list[int] = []
        channels: list[int] = []
        for t, ch, n, s in STAGES:
            out = _divisible(ch * width)
            for i in range(n):
                blocks.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
            if ch in (32, 96, 160):
                self.taps.append(len(blocks) - 1)
                channels.append(c)
        self.blocks = nn.ModuleList(blocks)
        self.mix = nn.Sequential(nn.Conv2d(sum(channels), hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Linear(hidden, 32), nn.ReLU(inplace=True), nn.Linear(32, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)            # 1 + 4 sigmoid(0) = 3, the middle of the scale
        self.register_buffer("codes", torch.arange(1, N_REGIONS + 1, dtype=torch.float32).view(1, N_REGIONS, 1, 1))

    def grid_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, hidden, 16, 16) features of a batch of raw 0-255 frames."""
        x = x / 127.5 - 1.0
        if self.pre_pool > 1:
            x = nn.functional.avg_pool2d(x, self.pre_pool)
        x = self.stem(x)
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                taps.append(x)
        size = taps[0].shape[2:]
        taps = [taps[0]] + [nn.functional.interpolate(t, size=size, mode="nearest") for t in taps[1:]]
        return self.mix(torch.cat(taps, dim=1))

    def region_weights(self, regions: torch.Tensor) -> torch.Tensor:
        """(N, 8, 16*16) share of each 16x16-pixel cell covered by each region, normalised to sum 1 per region."""
        onehot = (regions == self.codes).float()                                  # (N, 8, 256, 256)
        share = nn.functional.avg_pool2d(onehot, CELL).flatten(2)                # (N, 8, cells)
        return share / share.sum(dim=2, keepdim=True).clamp(min=1e-6)

    def forward(self, x: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        f = self.grid_features(x)                                                 # (N, C, g, g)
        w = self.region_weights(regions)                              # (N, 8, g*g)
        pooled = torch.bmm(w, f.flatten(2).transpose(1, 2))                      # (N, 8, C)
        return 1.0 + 4.0 * torch.sigmoid(self.head(pooled)[..., 0])               # (N, 8)


class MirrorAveragedRegions(nn.Module):
    """Mean of the scores of the frame and of its mirror image (region map mirrored with it; region codes
    keep their identity, so no reordering is needed)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        both = self.model(torch.cat([x, torch.flip(x, dims=[3])]), torch.cat([regions, torch.flip(regions, dims=[3])]))
        n = x.shape[0]
        return 0.5 * (both[:n] + both[n:])
