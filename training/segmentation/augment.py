"""Scanner and setting variation for segmentation training.

A labelled frame is re-imaged as another scanner would show it: a new screen (any size and
aspect), a new fan (opening 60–110°, any depth, apex inside or above the screen), the heart
zoomed (0.7–1.4), stretched (anisotropic 0.75–1.33: CAMUS frames are), rotated and shifted
within it, overlays burned in (text, grey-scale bar, depth ticks, ECG trace, logo), compression
(JPEG) and blur. The screen then goes through the app's own framing (`echoquality.core.framing`);
there a side wall may fade into the noise floor (wall dropout: labels kept, as experts draw faint walls)
and haze may cover the apex; then grey-level changes (gain, TGC, gamma, dynamic range, speckle, noise) are applied to what the
network sees. All randomness comes from the numpy Generator passed in: a seed reproduces a run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from echoquality.core.fan import find_fan, polygon_mask
from echoquality.core.vocabulary import LV, MYO
from echoquality.core.framing import NETWORK_SIZE, network_view


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of each variation."""
    p_mirror: float = 0.5
    fan_angle_deg: tuple[float, float] = (60.0, 110.0)
    zoom: tuple[float, float] = (0.7, 1.4)
    anisotropy: tuple[float, float] = (0.75, 1.33)   # x-scale / y-scale
    rotation_deg: float = 12.0
    shift: float = 0.06                                # of the fan depth
    screen_aspect: tuple[float, float] = (0.9, 1.6)    # width / height
    screen_height: tuple[int, int] = (300, 720)
    p_apex_above: float = 0.25
    p_overlays: float = 0.7
    p_ecg_inside: float = 0.2
    p_jpeg: float = 0.4
    jpeg_quality: tuple[int, int] = (20, 90)
    p_blur: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.6)
    gain: tuple[float, float] = (0.5, 1.4)
    gamma: tuple[float, float] = (0.6, 1.7)
    p_tgc: float = 0.4
    tgc: float = 0.7
    p_dynamic_range: float = 0.4
    p_speckle: float = 0.4
    speckle: tuple[float, float] = (0.05, 0.35)
    p_noise: float = 0.3
    noise: float = 0.04
    p_wall_fade: float = 0.35                          # a wall along the beam sinks towards the noise floor
    wall_fade: tuple[float, float] = (0.03, 0.5)       # remaining echo (labels kept: experts draw faint walls)
    p_apex_haze: float = 0.2                           # near-field clutter over the apex
    p_native: float = 0.0                              # the source screen as stored (mirror and grey levels only)
    p_edge_cut: float = 0.0                            # exported as the sector alone, cut by the image's edges
    edge_cut_sides: float = 0.18                       # at most this share of the fan's width off each side,
    edge_cut_arc: float = 0.12                         # of its height off the arc,
    edge_cut_apex: float = 0.06                        # and off the apex


@dataclass(frozen=True)
class Source:
    """A labelled frame with its fan geometry, ready to be re-imaged."""
    image: np.ndarray      # (H, W) uint8
    labels: np.ndarray     # (H, W) uint8
    apex: tuple[float, float]   # (y, x)
    depth: float           # apex to the deepest fan pixel, pixels


def source_of(image: np.ndarray, labels: np.ndarray) -> Source:
    """A training frame with its fan's apex and depth measured by the app's fan finder."""
    fan = find_fan(image)
    if fan.found and fan.apex is not None and fan.angle_deg > 20:
        apex = (float(fan.apex[0]), float(fan.apex[1]))
    else:
        apex = (0.0, image.shape[1] / 2.0)
    ys, xs = np.nonzero(image > 8)
    depth = float(np.hypot(ys - apex[0], xs - apex[1]).max()) if ys.size else float(image.shape[0])
    return Source(image, labels, apex, depth)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def sector_outline(apex: tuple[float, float], angle_deg: float, radius: float, n: int = 48) -> np.ndarray:
    """(K, 2) (x, y) outline of a sector with its apex at `apex` (y, x), opening downwards."""
    half = math.radians(angle_deg) / 2
    arc = np.linspace(-half, half, n)
    xs = apex[1] + radius * np.sin(arc)
    ys = apex[0] + radius * np.cos(arc)
    return np.vstack([[apex[1], apex[0]], np.stack([xs, ys], axis=1)])


def _tissue_fill(image: np.ndarray, apex: np.ndarray, dst_apex: np.ndarray, linear: np.ndarray,
                 shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Tissue for the fan parts the source frame does not cover: the same frame magnified, turned and dimmed.

    Real fans show the right heart, lungs and pericardium there: cavities and bright tissue that are all
    background for the network, so the magnified copy (labelled background) is a fair stand-in.
    """
    rot = math.radians(rng.uniform(-40, 40))
    c, s = math.cos(rot), math.sin(rot)
    big = np.array([[c, -s], [s, c]]) @ linear * rng.uniform(1.6, 2.4)
    matrix = np.hstack([big, (dst_apex - big @ apex)[:, None]])
    fill = cv2.warpAffine(np.ascontiguousarray(image[:, ::-1] if rng.random() < 0.5 else image), matrix,
                          (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return fill.astype(np.float32) * rng.uniform(0.6, 1.0)


def _overlays(screen: np.ndarray, fan: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> None:
    """Burn text, a grey-scale bar, depth ticks, an ECG trace and a logo into the screen (in place)."""
    h, w = screen.shape
    outside = ~fan
    for _ in range(int(rng.integers(1, 6))):
        text = "".join(rng.choice(list("ABCDEFGHKLMNPRSTUVXZ0123456789 .:/%-"), int(rng.integers(3, 12))))
        org = (int(rng.integers(0, max(1, w - 40))), int(rng.integers(10, h)))
        layer = np.zeros_like(screen)
        cv2.putText(layer, text, org, cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.3, 0.8)),
                    int(rng.integers(120, 256)), int(rng.integers(1, 3)))
        np.maximum(screen, np.where(outside, layer, 0), out=screen)
    if rng.random() < 0.6:   # grey-scale bar
        bh, bw = int(h * rng.uniform(0.15, 0.4)), int(rng.integers(6, 16))
        y0, x0 = int(rng.integers(0, h - bh)), int(rng.choice([rng.integers(0, max(1, w // 6)), w - bw - int(rng.integers(0, w // 6))]))
        bar = np.linspace(255, 0, bh, dtype=np.float32)[:, None].repeat(bw, 1)
        region = screen[y0:y0 + bh, x0:x0 + bw]
        region[...] = np.where(outside[y0:y0 + bh, x0:x0 + bw], bar.astype(np.uint8), region)
    if rng.random() < 0.6:   # depth ticks down one side
        x = int(rng.integers(w * 3 // 4, w - 4)) if rng.random() < 0.7 else int(rng.integers(2, w // 4))
        for y in range(int(rng.integers(0, 30)), h, int(rng.integers(20, 60))):
            if outside[y, x]:
                cv2.line(screen, (x, y), (x + int(rng.integers(3, 9)), y), int(rng.integers(150, 256)), 1)
    if rng.random() < 0.5:   # ECG trace across the bottom, sometimes over the fan
        y_base = int(h * rng.uniform(0.82, 0.97))
        xs = np.arange(0, w, 2)
        beat = rng.uniform(60, 160)
        ys = y_base - 4 * np.sin(xs / 17.0) - 30 * np.exp(-((xs % beat) - beat / 2) ** 2 / 8.0)
        pts = np.stack([xs, ys], 1).astype(np.int32)[:, None]
        layer = np.zeros_like(screen)
        cv2.polylines(layer, [pts], False, int(rng.integers(150, 256)), 1)
        mask = np.ones_like(fan) if rng.random() < cfg.p_ecg_inside else outside
        np.maximum(screen, np.where(mask, layer, 0), out=screen)
    if rng.random() < 0.4:   # logo / probe marker
        c = (int(rng.integers(10, w - 10)), int(rng.integers(10, max(11, h // 5))))
        layer = np.zeros_like(screen)
        cv2.circle(layer, c, int(rng.integers(3, 9)), int(rng.integers(150, 256)), -1)
        np.maximum(screen, np.where(outside, layer, 0), out=screen)


def reimage(src: Source, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()
            ) -> tuple[np.ndarray, np.ndarray]:
    """A new screen (uint8) and its labels: the source frame as another scanner and setting would show it."""
    image, labels, apex = src.image, src.labels, src.apex
    if rng.random() < cfg.p_mirror:
        image, labels = image[:, ::-1], labels[:, ::-1]
        apex = (apex[0], image.shape[1] - 1 - apex[1])
    sh = int(rng.integers(*cfg.screen_height))
    sw = int(sh * rng.uniform(*cfg.screen_aspect))
    angle = rng.uniform(*cfg.fan_angle_deg)
    top = -rng.uniform(0.02, 0.15) * sh if rng.random() < cfg.p_apex_above else rng.uniform(0.01, 0.08) * sh
    apex_new = (top, sw / 2 + rng.uniform(-0.05, 0.05) * sw)
    half = math.radians(angle) / 2
    # The fan's depth: as deep as the screen allows, not wider than the screen.
    radius = min((sh - top) * rng.uniform(0.85, 0.99), 0.98 * sw / (2 * math.sin(half)) if half < math.pi / 2 else sh)
    scale = _log_uniform(rng, cfg.zoom) * radius / src.depth
    aniso = _log_uniform(rng, cfg.anisotropy)
    sx, sy = scale * math.sqrt(aniso), scale / math.sqrt(aniso)
    rot = math.radians(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    c, s = math.cos(rot), math.sin(rot)
    linear = np.array([[c, -s], [s, c]]) @ np.diag([sx, sy])
    shift = rng.uniform(-cfg.shift, cfg.shift, 2) * radius
    a_src = np.array([apex[1], apex[0]])
    a_dst = np.array([apex_new[1], apex_new[0]]) + shift
    matrix = np.hstack([linear, (a_dst - linear @ a_src)[:, None]])
    warped = cv2.warpAffine(np.ascontiguousarray(image), matrix, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=0)
    lab = cv2.warpAffine(np.ascontiguousarray(labels), matrix, (sw, sh), flags=cv2.INTER_NEAREST, borderValue=0)
    content = cv2.warpAffine((image > 8).astype(np.uint8), matrix, (sw, sh), flags=cv2.INTER_NEAREST,
                             borderValue=0).astype(bool)
    content = cv2.erode(content.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    fan = polygon_mask(sector_outline(apex_new, angle, radius), (sh, sw))
    gap = fan & ~content
    if gap.any():
        fill = _tissue_fill(image, a_src, a_dst, linear, (sh, sw), rng)
        warped = np.where(gap, fill, warped)
        lab = np.where(gap, 0, lab)
    screen = np.where(fan, warped, 0).astype(np.uint8)
    lab = np.where(fan, lab, 0).astype(np.uint8)
    if rng.random() < cfg.p_blur:
        screen = cv2.GaussianBlur(screen, (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.p_overlays:
        _overlays(screen, fan, rng, cfg)
    if cfg.p_edge_cut > 0 and rng.random() < cfg.p_edge_cut:     # switched off: no random numbers drawn
        screen, lab = cut_at_edges(screen, lab, fan, rng, cfg)
    if rng.random() < cfg.p_jpeg:
        ok, buf = cv2.imencode(".jpg", screen, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*cfg.jpeg_quality))])
        screen = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return screen, lab


def cut_at_edges(screen: np.ndarray, labels: np.ndarray, fan: np.ndarray, rng: np.random.Generator,
                 cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The screen cut to the fan's bounding box and into the fan (its sides, arc and apex run over the new image's
    edges), as scanners and archives export the sector alone; half the time stretched to a square."""
    ys, xs = np.nonzero(fan)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    h, w = y1 - y0, x1 - x0
    left, right = rng.uniform(0, cfg.edge_cut_sides, 2) * w
    top, bottom = rng.uniform(0, cfg.edge_cut_apex) * h, rng.uniform(0, cfg.edge_cut_arc) * h
    rows, cols = slice(int(y0 + top), int(y1 - bottom)), slice(int(x0 + left), int(x1 - right))
    screen, labels = screen[rows, cols], labels[rows, cols]
    if rng.random() < 0.5:
        side = int(round(math.sqrt(screen.shape[0] * screen.shape[1])))
        screen = cv2.resize(screen, (side, side), interpolation=cv2.INTER_AREA)
        labels = cv2.resize(labels, (side, side), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(screen), np.ascontiguousarray(labels)


def native(src: Source, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The source screen as its scanner stored it (left-right mirrored sometimes)."""
    if rng.random() < cfg.p_mirror:
        return np.ascontiguousarray(src.image[:, ::-1]), np.ascontiguousarray(src.labels[:, ::-1])
    return src.image, src.labels


def grey_levels(image: np.ndarray, sector: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Gain, TGC, gamma, dynamic range, speckle and noise inside the fan; float32 0–255."""
    size = image.shape[0]
    x = image.astype(np.float32) / 255.0
    if rng.random() < cfg.p_dynamic_range:   # log compression changed: stretch or squash the grey scale
        k = _log_uniform(rng, (0.3, 6.0))
        x = np.log1p(k * x) / math.log1p(k)
    x = np.power(x, _log_uniform(rng, cfg.gamma)) * rng.uniform(*cfg.gain)
    if rng.random() < cfg.p_tgc:
        depth = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None]
        knots = 1.0 + rng.uniform(-cfg.tgc, cfg.tgc, 4).astype(np.float32)
        x = x * np.interp(depth, np.linspace(0, 1, 4), knots).astype(np.float32)
    if rng.random() < cfg.p_speckle:
        grain = int(rng.choice([1, 2, 3]))
        field = rng.standard_normal((size // grain + 1, size // grain + 1)).astype(np.float32)
        field = cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR) if grain > 1 else field[:size, :size]
        x = x * np.clip(1.0 + rng.uniform(*cfg.speckle) * field, 0.0, None)
    if rng.random() < cfg.p_noise:
        x = x + rng.normal(0.0, rng.uniform(0, cfg.noise), x.shape).astype(np.float32)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0) * sector


def _apex_of(sector: np.ndarray) -> tuple[float, float]:
    """(y, x) of the fan's apex in the network view: where lines fitted to its left and right edges meet."""
    rows = np.flatnonzero(sector.any(axis=1))
    top, bottom = rows[0], rows[-1]
    ys = rows[(rows > top + 3) & (rows < top + 0.5 * (bottom - top))]
    if ys.size >= 5:
        left = sector[ys].argmax(axis=1).astype(np.float64)
        right = sector.shape[1] - 1 - sector[ys, ::-1].argmax(axis=1).astype(np.float64)
        al, bl = np.polyfit(ys, left, 1)
        ar, br = np.polyfit(ys, right, 1)
        if abs(al - ar) > 0.2:
            y0 = (br - bl) / (al - ar)
            if -sector.shape[0] < y0 <= top + 2:
                return float(y0), float(al * y0 + bl)
    return float(top), float(np.flatnonzero(sector[top]).mean())


def fade_wall(image: np.ndarray, labels: np.ndarray, sector: np.ndarray, rng: np.random.Generator,
              cfg: AugmentConfig) -> np.ndarray:
    """Wall dropout, as in real apical views: part of one side wall (the lateral or septal wall, which run
    along the beam) and a few pixels around it keep only `wall_fade` of their echo over a noise floor.
    The labels stay: the wall is there, only faint (float32 image)."""
    myo = labels == MYO
    if myo.sum() < 50:
        return image
    ay, ax = _apex_of(sector)
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = np.arctan2(xx - ax, yy - ay)
    radius = np.hypot(xx - ax, yy - ay)
    centre = float(np.median(theta[myo]))
    side = myo & ((theta > centre) if rng.random() < 0.5 else (theta <= centre))
    if side.sum() < 20:
        return image
    r0, r1 = np.percentile(radius[side], [2, 98])
    length = (r1 - r0) * rng.uniform(0.3, 1.0)
    start = r0 + rng.uniform(0.0, 1.0) * (r1 - r0 - length)
    along = np.clip(np.minimum(radius - start, start + length - radius) / 8.0 + 0.5, 0.0, 1.0)
    dist = cv2.distanceTransform((~side).astype(np.uint8), cv2.DIST_L2, 3)
    near = np.clip(1.0 - dist / rng.uniform(3.0, 12.0), 0.0, 1.0)
    weight = cv2.GaussianBlur((along * near).astype(np.float32), (0, 0), 2.0)
    keep = rng.uniform(*cfg.wall_fade)
    blood = float(np.median(image[labels == LV])) if (labels == LV).any() else 10.0
    grain = 1.0 + rng.uniform(0.2, 0.6) * (speckle(image.shape, rng) - 1.0)
    floor = blood * rng.uniform(0.6, 1.3) * grain   # the noise floor, near the blood level, as grainy as blood
    faded = np.maximum(image * keep, floor)
    return image * (1.0 - weight) + faded * weight


def speckle(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Speckle-like texture with mean 1: the envelope of laterally elongated complex noise."""
    z = [cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 2.0, sigmaY=0.7) for _ in range(2)]
    env = np.hypot(z[0], z[1])
    return env / max(float(env.mean()), 1e-6)


def apex_haze(image: np.ndarray, sector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Near-field clutter: speckle-textured haze strongest at the transducer, fading within 15–40 % of the view."""
    ay, ax = _apex_of(sector)
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    reach = h * rng.uniform(0.15, 0.4)
    weight = np.clip(1.0 - np.hypot(xx - ax, yy - ay) / reach, 0.0, 1.0) ** rng.uniform(0.5, 1.5)
    haze = rng.uniform(30, 120) * speckle((h, w), rng)
    return np.minimum(image + weight * haze, 255.0) * sector


def augment(src: Source, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig(),
            size: int = NETWORK_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A training pair as the network sees it: (float32 0–255 (size, size), uint8 labels (size, size))."""
    if cfg.p_native > 0 and rng.random() < cfg.p_native:
        screen, lab = native(src, rng, cfg)
    else:
        screen, lab = reimage(src, rng, cfg)
    view = network_view(screen, None, size)
    labels = view.framing.to_network(lab, nearest=True) * view.sector
    image = view.image.astype(np.float32)
    # Switched off (probability 0), these draw no random numbers: older uses (the view classifier's samples) keep
    # their exact random stream.
    if cfg.p_wall_fade > 0 and rng.random() < cfg.p_wall_fade:
        image = fade_wall(image, labels, view.sector, rng, cfg)
    if cfg.p_apex_haze > 0 and rng.random() < cfg.p_apex_haze:
        image = apex_haze(image, view.sector, rng)
    return grey_levels(image, view.sector, rng, cfg).astype(np.float32), labels.astype(np.uint8)
