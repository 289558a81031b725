"""The view classifier: a small CNN on the 64×64 network view; probabilities out (softmax in the graph)."""
from __future__ import annotations

import torch
from torch import nn

from echoquality.core.view import VIEW_CLASSES, VIEW_INPUT_SIZE


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ViewNet(nn.Module):
    """(N, 1, 64, 64) raw 0–255 → (N, 3) logits (`probabilities` wraps it with a softmax for export).

    Five stride-2 stages down to 4×4, then a linear layer over the flattened map: where the
    structures lie in the fan matters (the LV on one side of the septum in A4C, central in A2C).
    """

    def __init__(self, widths: tuple[int, ...] = (8, 16, 24, 32, 48), dropout: float = 0.3):
        super().__init__()
        layers, c = [], 1
        for i, w in enumerate(widths):
            layers.append(_block(c, w, 2))
            if i >= 1:
                layers.append(_block(w, w, 1))
            c = w
        self.features = nn.Sequential(*layers)
        side = VIEW_INPUT_SIZE // 2 ** len(widths)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * side * side, len(VIEW_CLASSES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x / 255.0))


class Probabilities(nn.Module):
    """The exported graph: softmax over the classifier's logits, averaged over the members of an ensemble
    (one net or several trained with different seeds); with `mirror` also over the mirror image."""

    def __init__(self, nets: nn.Module | list[nn.Module], mirror: bool = False):
        super().__init__()
        self.nets = nn.ModuleList(nets if isinstance(nets, list) else [nets])
        self.mirror = mirror

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = [x, torch.flip(x, dims=[3])] if self.mirror else [x]
        p = [torch.softmax(net(v), dim=1) for net in self.nets for v in inputs]
        return torch.stack(p).mean(dim=0)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
