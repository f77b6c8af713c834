"""Coloured digits on natural-looking textures: a colour data set honest about difficulty.

No colour data set can be downloaded here, so tests and benchmarks make one from the
grey MNIST digits. Each digit is cropped to its ink, scaled to a random height (about
half to three quarters of the image) and aspect, placed at a random position of a
``size`` x ``size`` picture and painted in a random saturated colour over a random
background: multi-octave value noise through a palette of related colours, warped
stripes, gradients or camouflage-like patches, sometimes two of them blended, with
film grain and, in some pictures, thin stray strokes that look like pen marks. The
digit's colour keeps a minimum distance from the background under it, but that
distance is drawn per picture and is sometimes small, so some digits are faint.

Every picture depends only on ``seed`` and its index: the same call gives the same
bytes, and the first k pictures of a set are those of a set of k. A picture's random
draws do not depend on its digit either, so a blank digit under the same seed and
index gives that picture's background alone.
"""

from __future__ import annotations

import numpy as np

VARIANTS = ("textured", "cluttered")
CANDIDATES = 16  # digit colours tried per picture, the first that keeps the contrast wins
MIN_SIZE, MAX_SIZE = 16, 256


def make_colour_digits(
    digits: np.ndarray, labels: np.ndarray, seed: int, size: int = 32, variant: str = "textured"
) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) uint8 grey digits (0 = background) -> (N, size, size, 3) uint8 colour
    pictures and a copy of ``labels``. ``variant`` is one of `VARIANTS` (module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    digits = np.asarray(digits)
    labels = np.asarray(labels)
    if digits.ndim != 3 or digits.dtype != np.uint8:
        raise ValueError(
            f"digits must be a uint8 array of N grey images (N, H, W), got {digits.dtype} {digits.shape}"
        )
    if labels.shape != digits.shape[:1]:
        raise ValueError(f"labels must have one entry per digit ({len(digits)}), got shape {labels.shape}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be a whole number between {MIN_SIZE} and {MAX_SIZE}, got {size!r}")
    size = int(size)
    images = np.empty((len(digits), size, size, 3), np.uint8)
    for i, digit in enumerate(digits):
        rng = np.random.default_rng([int(seed), i])
        picture = _picture(digit, rng, size, variant == "cluttered")
        images[i] = np.round(np.clip(picture, 0.0, 1.0) * 255.0).astype(np.uint8)
    return images, labels.copy()


def _picture(digit: np.ndarray, rng: np.random.Generator, size: int, cluttered: bool) -> np.ndarray:
    background = _texture(rng, size)
    if rng.random() < 0.4:  # two textures blended through a soft noise mask
        mask = _smoothstep(np.clip((_noise(rng, size, 2, 2) - 0.5) * rng.uniform(2, 6) + 0.5, 0, 1))
        background = background * mask[..., None] + _texture(rng, size) * (1 - mask[..., None])
    if cluttered and rng.random() < 0.35:
        background = _strays(rng, size, background)
    alpha = _placed(digit, rng, size) if cluttered else _at_own_size(digit, rng, size)
    colour = _digit_colour(rng, background, alpha, cluttered)
    shade = 1.0 + rng.uniform(0.0, 0.3) * (_noise(rng, size, 2, 2) - 0.5)  # uneven paint
    ink = np.clip(colour[None, None, :] * shade[..., None], 0, 1)
    picture = background * (1 - alpha[..., None]) + ink * alpha[..., None]
    return np.asarray(picture + rng.normal(0.0, rng.uniform(0.0, 0.04), picture.shape))  # grain


# -- backgrounds ---------------------------------------------------------------------


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) floats in [0, 1]: one of four kinds of texture through a palette."""
    kind = rng.integers(4)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    along = x * np.cos(angle) + y * np.sin(angle)
    if kind == 0:  # clouds, bark, stone: multi-octave value noise
        t = _noise(rng, size, int(rng.integers(2, 5)), int(rng.integers(2, 4)))
    elif kind == 1:  # stripes, bent by noise (wood, fabric), soft or hard-edged
        period = rng.uniform(4.0, 14.0)
        bend = rng.uniform(0.0, 6.0) * (_noise(rng, size, 2, 2) - 0.5)
        wave = np.sin(2 * np.pi * (along + bend) / period + rng.uniform(0, 2 * np.pi))
        t = 0.5 + 0.5 * np.tanh(rng.uniform(0.7, 4.0) * wave) / np.tanh(4.0)
    elif kind == 2:  # a gradient (sky, a lit wall) with a little noise
        t = (along - along.min()) / max(np.ptp(along), 1e-9)
        t = np.clip(t + rng.uniform(0.0, 0.4) * (_noise(rng, size, 3, 2) - 0.5), 0, 1)
    else:  # patches (camouflage, foliage): noise pushed towards its levels
        steep = rng.uniform(3.0, 10.0)
        t = _noise(rng, size, 3, int(rng.integers(2, 4)))
        t = 0.5 + 0.5 * np.tanh(steep * (t - 0.5)) / np.tanh(steep / 2)
    return _through_palette(np.clip(t, 0, 1), _palette(rng))


def _palette(rng: np.random.Generator) -> np.ndarray:
    """2-4 colours of related hues (sometimes one opposite), muted to vivid, dark to light."""
    count = int(rng.integers(2, 5))
    hue = rng.uniform() + rng.normal(0.0, rng.uniform(0.02, 0.15), count)
    if rng.random() < 0.3:
        hue[rng.integers(count)] += 0.5
    saturation = rng.uniform(0.05, 0.85, count)
    value = np.sort(rng.uniform(0.1, 0.95, count))
    if rng.random() < 0.5:  # low-contrast backgrounds are common in photographs
        value = value.mean() + (value - value.mean()) * rng.uniform(0.2, 0.6)
    return _hsv_to_rgb(hue % 1.0, saturation, value)


def _through_palette(t: np.ndarray, palette: np.ndarray) -> np.ndarray:
    stops = np.linspace(0.0, 1.0, len(palette))
    return np.stack([np.interp(t, stops, palette[:, c]) for c in range(3)], axis=-1)


def _noise(rng: np.random.Generator, size: int, octaves: int, base: int) -> np.ndarray:
    """(size, size) smooth value noise in [0, 1]: random grids of base * 2**k cells,
    interpolated smoothly and summed with halving weights."""
    field = np.zeros((size, size))
    for k in range(octaves):
        cells = min(base * 2**k, size - 1)
        up = _upsampler(cells + 1, size)
        field += 0.5**k * (up @ rng.random((cells + 1, cells + 1)) @ up.T)
    low, high = field.min(), field.max()
    return np.asarray((field - low) / max(high - low, 1e-9))


def _upsampler(points: int, size: int) -> np.ndarray:
    """(size, points) weights: a smoothstep interpolation of ``points`` grid values that
    span the whole side."""
    x = np.linspace(0.0, points - 1.0, size)
    left = np.minimum(np.floor(x).astype(int), points - 2)
    w = _smoothstep(x - left)
    matrix = np.zeros((size, points))
    matrix[np.arange(size), left] = 1 - w
    matrix[np.arange(size), left + 1] = w
    return matrix


def _strays(rng: np.random.Generator, size: int, background: np.ndarray) -> np.ndarray:
    """1-3 thin curved strokes (twigs, cracks, pen marks) over the background."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    t = np.linspace(0.0, 1.0, 48)[:, None]
    for _ in range(int(rng.integers(1, 4))):
        p0, p1, p2 = rng.uniform(-2, size + 2, (3, 2))
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2  # (48, 2) points
        distance = np.sqrt(
            ((x.ravel()[:, None] - curve[:, 0]) ** 2 + (y.ravel()[:, None] - curve[:, 1]) ** 2).min(1)
        )
        width = rng.uniform(0.4, 1.1)
        cover = rng.uniform(0.3, 0.8) * np.clip(width + 0.5 - distance, 0, 1).reshape(size, size)
        colour = _hsv_to_rgb(rng.uniform(size=1), rng.uniform(0.1, 0.9, 1), rng.uniform(0.1, 0.95, 1))[0]
        background = background * (1 - cover[..., None]) + colour * cover[..., None]
    return background


# -- the digit -----------------------------------------------------------------------


def _placed(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size) ink coverage in [0, 1]: the digit cropped to its ink, scaled to a
    random height and aspect and put at a random place at least a pixel from the edge."""
    alpha = np.zeros((size, size))
    height = rng.uniform(0.5, 0.78) * size
    aspect = rng.uniform(0.85, 1.15)
    top_draw, left_draw = rng.uniform(size=2)
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    if not len(rows):
        return alpha
    ink = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float64) / 255.0
    h = int(np.clip(round(height), 2, size - 2))
    w = int(np.clip(round(ink.shape[1] * h / ink.shape[0] * aspect), 1, size - 2))
    scaled = np.clip(_resizer(h, ink.shape[0]) @ ink @ _resizer(w, ink.shape[1]).T, 0, 1)
    top = 1 + int(top_draw * (size - 1 - h))
    left = 1 + int(left_draw * (size - 1 - w))
    alpha[top : top + h, left : left + w] = scaled
    return alpha


def _at_own_size(digit: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size) ink coverage: the whole digit picture (its margin included) at its own
    size in a 32-pixel picture (scaled by size / 32 otherwise), shifted at random within
    the picture."""
    side = max(2, min(size, round(digit.shape[0] * size / 32)))
    width = max(1, min(size, round(digit.shape[1] * size / 32)))
    top_draw, left_draw = rng.uniform(size=2)
    ink = digit.astype(np.float64) / 255.0
    scaled = np.clip(_resizer(side, ink.shape[0]) @ ink @ _resizer(width, ink.shape[1]).T, 0, 1)
    alpha = np.zeros((size, size))
    top, left = int(top_draw * (size - side + 1)), int(left_draw * (size - width + 1))
    alpha[top : top + side, left : left + width] = scaled
    return alpha


def _resizer(out: int, src: int) -> np.ndarray:
    """(out, src) area-resampling weights: each output pixel averages the source pixels
    its footprint covers, so shrinking keeps thin strokes instead of skipping them."""
    edges = np.arange(out + 1) * src / out
    source = np.arange(src)[None, :]
    overlap = np.minimum(edges[1:, None], source + 1) - np.maximum(edges[:-1, None], source)
    return np.asarray(np.clip(overlap, 0, None) * (out / src))


def _digit_colour(
    rng: np.random.Generator, background: np.ndarray, alpha: np.ndarray, cluttered: bool
) -> np.ndarray:
    """A saturated colour that keeps a drawn minimum distance (RGB, 0-1 scale) from the
    background under the ink, at the median stroke pixel and, by half of it, at nearly
    all of them; in the cluttered variant a quarter of the pictures also stay close to
    that minimum (faint ones)."""
    candidates = _hsv_to_rgb(
        rng.uniform(size=CANDIDATES), rng.uniform(0.55, 1.0, CANDIDATES), rng.uniform(0.3, 1.0, CANDIDATES)
    )
    least = rng.uniform(0.18, 0.5) if cluttered else rng.uniform(0.35, 0.6)
    faint = rng.random() < 0.25 and cluttered
    under = background[alpha > 0.5]
    if not len(under):
        return np.asarray(candidates[0])
    distance = np.linalg.norm(candidates[:, None, :] - under[None, :, :], axis=-1)
    median, low = np.median(distance, axis=1), np.quantile(distance, 0.1, axis=1)
    ok = (median >= least) & (low >= least / 2)
    if faint and (ok & (median <= least + 0.15)).any():
        ok &= median <= least + 0.15
    return np.asarray(candidates[int(np.argmax(ok))] if ok.any() else candidates[int(np.argmax(low))])


# -- helpers -------------------------------------------------------------------------


def _smoothstep(t: np.ndarray) -> np.ndarray:
    return np.asarray(t * t * (3 - 2 * t))


def _hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(n,) each -> (n, 3) RGB in [0, 1]."""
    h6 = (np.asarray(hue) % 1.0) * 6.0
    c = value * saturation
    x = c * (1 - np.abs(h6 % 2 - 1))
    zero = np.zeros_like(c)
    sector = np.floor(h6).astype(int) % 6
    options = [(c, x, zero), (x, c, zero), (zero, c, x), (zero, x, c), (x, zero, c), (c, zero, x)]
    rgb = np.empty((len(c), 3))
    for k, (r, g, b) in enumerate(options):
        pick = sector == k
        rgb[pick] = np.stack([r[pick], g[pick], b[pick]], axis=1)
    return np.asarray(rgb + (value - c)[:, None])
