"""The 15 ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019), severities 1-5.

Twelve come from the ``imagecorruptions`` package (1.1.2). Its ``glass_blur`` (skimage's removed
``multichannel`` argument) and ``fog`` (numpy's removed ``np.float_``) fail under the stack's
numpy 2 / scikit-image 0.2x, and its ``impulse_noise`` draws from an unseeded generator inside
scikit-image; mtkit implements those three itself from the published formulas and parameters.
Every corruption is deterministic for a ``seed``: the random draws come from numpy's global RNG
(which ``imagecorruptions`` uses) seeded for the call, and the caller's RNG state is restored
afterwards.
"""
import contextlib
from typing import Callable, Dict, Iterator, Optional

import numpy as np

from ..utils.errors import check_choice

#: The continual-TTA order of the benchmark (Wang et al., CoTTA; Döbler et al., RMT).
CORRUPTIONS = ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur',
               'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog', 'brightness', 'contrast',
               'elastic_transform', 'pixelate', 'jpeg_compression')

# (sigma, max_delta, iterations) of glass blur, per severity
_GLASS = [(0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]
# salt-and-pepper fraction of impulse noise, per severity
_IMPULSE = [0.03, 0.06, 0.09, 0.17, 0.27]
# (strength, wibble decay) of fog, per severity
_FOG = [(1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)]


@contextlib.contextmanager
def _seeded_numpy(seed: Optional[int]) -> Iterator[None]:
    state = np.random.get_state()
    if seed is not None:
        np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _check_severity(severity: int) -> None:
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f'corruption severity must be 1..5, got {severity!r}')


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian
    return gaussian(x, sigma=sigma, channel_axis=-1 if x.ndim == 3 else None)


def glass_swaps(x: np.ndarray, max_delta: int, iterations: int) -> np.ndarray:
    """The local pixel shuffling of glass blur, in place: for every pixel, scanned from the
    bottom-right corner inwards ``iterations`` times, swap it with a random neighbour within
    ``max_delta`` (offsets in ``[-max_delta, max_delta)``). A permutation of the pixels."""
    h, w = x.shape[:2]
    for _ in range(iterations):
        for row in range(h - max_delta, max_delta, -1):
            for col in range(w - max_delta, max_delta, -1):
                dx, dy = np.random.randint(-max_delta, max_delta, size=2)
                r2, c2 = row + dy, col + dx
                x[row, col], x[r2, c2] = x[r2, c2].copy(), x[row, col].copy()
    return x


def glass_blur(x: np.ndarray, severity: int = 1) -> np.ndarray:
    """Gaussian blur, local pixel swaps, Gaussian blur again (ImageNet-C parameters)."""
    _check_severity(severity)
    sigma, max_delta, iterations = _GLASS[severity - 1]
    x = np.uint8(_gaussian(np.asarray(x) / 255.0, sigma) * 255)
    x = glass_swaps(x, max_delta, iterations)
    return np.clip(_gaussian(x / 255.0, sigma), 0, 1) * 255


def plasma_fractal(mapsize: int = 256, wibbledecay: float = 3.0) -> np.ndarray:
    """(mapsize, mapsize) diamond-square height map in [0, 1]; ``mapsize`` a power of 2.

    Each level sets the centres of the current squares (square step), then the edge midpoints
    (diamond step), to the mean of their four neighbours (wrapping around) plus uniform noise of
    amplitude ``wibble ** 2``; the amplitude starts at 100 and is divided by ``wibbledecay``
    after each level.
    """
    if mapsize < 2 or mapsize & (mapsize - 1):
        raise ValueError(f'plasma_fractal: mapsize must be a power of 2, got {mapsize}')
    grid = np.zeros((mapsize, mapsize), dtype=np.float64)
    step, wibble = mapsize, 100.0

    def noisy_mean(four_sum: np.ndarray) -> np.ndarray:
        return four_sum / 4 + wibble * np.random.uniform(-wibble, wibble, four_sum.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0::step, 0::step]
        around = corners + np.roll(corners, -1, axis=0)
        around = around + np.roll(around, -1, axis=1)
        grid[half::step, half::step] = noisy_mean(around)
        centres = grid[half::step, half::step]
        corners = grid[0::step, 0::step]
        grid[0::step, half::step] = noisy_mean(centres + np.roll(centres, 1, axis=0)
                                               + corners + np.roll(corners, -1, axis=1))
        grid[half::step, 0::step] = noisy_mean(centres + np.roll(centres, 1, axis=1)
                                               + corners + np.roll(corners, -1, axis=0))
        step = half
        wibble /= wibbledecay
    grid -= grid.min()
    return grid / grid.max()


def fog(x: np.ndarray, severity: int = 1) -> np.ndarray:
    """``clip((x + s * P) * m / (m + s))`` with ``x`` in [0, 1], ``m = max(x)``, ``P`` a plasma
    fractal cropped to the image, and the ImageNet-C strength ``s`` / wibble decay."""
    _check_severity(severity)
    strength, decay = _FOG[severity - 1]
    x = np.asarray(x) / 255.0
    h, w = x.shape[:2]
    mapsize = 1 << max(int(np.ceil(np.log2(max(h, w)))), 1)
    top = x.max()
    plasma = plasma_fractal(mapsize, decay)[:h, :w]
    x = x + strength * (plasma[..., None] if x.ndim == 3 else plasma)
    return np.clip(x * top / (top + strength), 0, 1) * 255


def impulse_noise(x: np.ndarray, severity: int = 1) -> np.ndarray:
    """Salt and pepper: each value (pixel and channel) becomes 0 or 1, with equal odds, with
    probability ``amount`` (ImageNet-C: 0.03 .. 0.27)."""
    _check_severity(severity)
    amount = _IMPULSE[severity - 1]
    x = np.asarray(x) / 255.0
    hit = np.random.random_sample(x.shape) < amount
    salt = np.random.random_sample(x.shape) < 0.5
    x = np.where(hit, salt.astype(np.float64), x)
    return np.clip(x, 0, 1) * 255


def _from_imagecorruptions(name: str) -> Callable:
    try:
        import imagecorruptions
    except ImportError as e:
        raise ImportError(f'corruption {name!r} needs the imagecorruptions package: '
                          f'pip install imagecorruptions==1.1.2 (or pip install -e .[tta])') from e
    return lambda image, severity: imagecorruptions.corrupt(image, severity=severity,
                                                           corruption_name=name)


OWN: Dict[str, Callable] = dict(glass_blur=glass_blur, fog=fog, impulse_noise=impulse_noise)


def corruption_seed(seed: int, corruption_index: int, severity: int, image_index: int) -> int:
    """A distinct, reproducible seed per (corruption, severity, image) of a dataset seed, as
    DigitsC and DigitScenes-C draw them."""
    return (seed * 1_000_003 + corruption_index * 7919 + severity * 104_729
            + image_index) % 2**31


def corrupt(image: np.ndarray, name: str, severity: int, seed: Optional[int] = 0) -> np.ndarray:
    """Corrupt an (H, W, 3) uint8 image (H, W >= 32); returns uint8 of the same shape.

    Args:
        image: RGB or BGR uint8 image.
        name: One of :data:`CORRUPTIONS`.
        severity: 1..5.
        seed: Seed of the random draws (None: the current global numpy state).
    """
    check_choice('corruption', name, CORRUPTIONS)
    _check_severity(severity)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'corrupt: expected an (H, W, 3) uint8 image, got {image.shape} '
                         f'{image.dtype}')
    if min(image.shape[:2]) < 32:
        raise ValueError(f'corrupt: images must be at least 32 x 32 (ImageNet-C kernels), got '
                         f'{image.shape[:2]}')
    fn = OWN.get(name) or _from_imagecorruptions(name)
    with _seeded_numpy(seed):
        out = fn(image, severity)
    out = np.asarray(out)
    if out.shape[:2] != image.shape[:2]:  # a few corruptions crop / pad at odd sizes
        fixed = np.zeros_like(image, dtype=np.float64)
        h, w = min(out.shape[0], image.shape[0]), min(out.shape[1], image.shape[1])
        fixed[:h, :w] = out[:h, :w]
        out = fixed
    return np.uint8(np.clip(np.rint(out), 0, 255))
