"""ImageNet-C corruptions: every type runs under numpy 2, changes the image, and is
deterministic for a seed; the three own implementations follow the published formulas."""
import numpy as np
import pytest

from mtkit.generate import corruptions as C


@pytest.fixture(scope='module')
def image():
    # a smooth scene with edges, like the benchmark's images
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 3, yy * 3, (xx + yy) * 2], -1) % 256
    img[20:40, 20:40] = (250, 30, 30)
    return img.astype(np.uint8)


@pytest.mark.parametrize('name', C.CORRUPTIONS)
def test_each_corruption_changes_the_image_deterministically(name, image):
    state = np.random.get_state()
    outs = {s: C.corrupt(image, name, s, seed=7) for s in (1, 5)}
    for s, out in outs.items():
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - image).mean() > 0.5, (name, s)
    assert np.array_equal(outs[5], C.corrupt(image, name, 5, seed=7))  # same seed, same image
    assert not np.array_equal(outs[1], outs[5])  # severity matters
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1])  # caller's RNG untouched


def test_the_order_is_the_continual_benchmark_order():
    assert C.CORRUPTIONS[:4] == ('gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur')
    assert C.CORRUPTIONS[-1] == 'jpeg_compression' and len(C.CORRUPTIONS) == 15


def test_fog_formula_by_hand(monkeypatch):
    monkeypatch.setattr(C, 'plasma_fractal', lambda mapsize, decay: np.full((mapsize, mapsize),
                                                                          0.5))
    img = np.full((32, 32, 3), 102, np.uint8)  # 0.4
    img[0, 0] = (204, 204, 204)  # max 0.8
    s = 2.5  # severity 4
    out = C.fog(img, 4)
    # clip((x + s * 0.5) * m / (m + s)) * 255
    assert out[5, 5, 0] == pytest.approx((0.4 + s * 0.5) * 0.8 / (0.8 + s) * 255)
    assert out[0, 0, 0] == pytest.approx((0.8 + s * 0.5) * 0.8 / (0.8 + s) * 255)


def test_plasma_fractal_is_a_normalised_power_of_two_map():
    np.random.seed(0)
    p = C.plasma_fractal(64, 1.7)
    assert p.shape == (64, 64) and p.min() == 0.0 and p.max() == 1.0
    with pytest.raises(ValueError, match='power of 2'):
        C.plasma_fractal(48)


def test_glass_swaps_only_permute_pixels(image):
    np.random.seed(0)
    swapped = C.glass_swaps(image.copy(), max_delta=4, iterations=2)
    assert not np.array_equal(swapped, image)
    key = lambda a: np.sort(a.reshape(-1, 3).view([('', a.dtype)] * 3).ravel())  # noqa: E731
    assert np.array_equal(key(swapped), key(image))


def test_impulse_noise_hits_the_published_fraction():
    img = np.full((200, 200, 3), 128, np.uint8)
    out = C.corrupt(img, 'impulse_noise', 5, seed=0)
    hit = out != 128
    assert abs(hit.mean() - 0.27) < 0.01  # severity 5: 27% of values
    assert set(np.unique(out[hit])) == {0, 255}


def test_bad_arguments_are_named(image):
    with pytest.raises(ValueError, match="corruption must be one of .*got 'haze'"):
        C.corrupt(image, 'haze', 1)
    with pytest.raises(ValueError, match='severity must be 1..5, got 6'):
        C.corrupt(image, 'fog', 6)
    with pytest.raises(ValueError, match='at least 32 x 32'):
        C.corrupt(image[:16, :16], 'fog', 1)
    with pytest.raises(ValueError, match=r'\(H, W, 3\) uint8'):
        C.corrupt(image.astype(np.float32), 'fog', 1)
