"""crappify: the same seed gives the same image; the image keeps its size; the quality is in
[10, 70]; the number is drawn inside the box it reports (on a black photo, the only bright
pixels are there); the enlargement keeps the shrunk image's content (2×)."""
import numpy as np
import pytest
from PIL import Image

from minitorch.vision.crappify import crappify, paired_random_crop, validation_pairs


def photo(w=128, h=96, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_same_seed_same_bytes_other_seed_other_image():
    img = photo()
    a, info_a = crappify(img, rng=np.random.default_rng(7), return_info=True)
    b, info_b = crappify(img, rng=np.random.default_rng(7), return_info=True)
    c, info_c = crappify(img, rng=np.random.default_rng(8), return_info=True)
    assert a.tobytes() == b.tobytes() and info_a == info_b
    assert a.tobytes() != c.tobytes()
    assert a.size == img.size and a.mode == "RGB"


def test_quality_range_and_placement_in_the_top_left_quarter():
    rng = np.random.default_rng(0)
    qs, xys, boxes = [], [], []
    for _ in range(300):
        _, info = crappify(photo(64, 64), rng=rng, return_info=True)
        qs.append(info["q"])
        xys.append(info["xy"])
        boxes.append(info["box"])
    assert min(qs) == 10 and max(qs) == 70  # randint(10, 70): both ends included
    # the text is placed in the top-left quarter of the image, and drawn from there on
    assert all(x <= 32 and y <= 32 for x, y in xys)
    assert all(x0 >= x - 2 and y0 >= y - 2 for (x, y), (x0, y0, _, _) in zip(xys, boxes))


@pytest.mark.parametrize("size", [(128, 128), (96, 64), (451, 300)])
def test_the_number_is_inside_its_box(size):
    black = Image.new("RGB", size)
    out, info = crappify(black, rng=np.random.default_rng(3), return_info=True)
    pixels = np.asarray(out).astype(float).max(axis=2)
    x0, y0, x1, y1 = info["box"]
    inside = pixels[y0:y1, x0:x1]
    outside = pixels.copy()
    outside[y0:y1, x0:x1] = 0
    assert inside.max() > 200  # the white number
    assert outside.max() < 40  # nothing else (JPEG ringing stays close to the box)


def test_the_enlargement_is_2x_of_a_bilinear_shrink():
    """A smooth image survives shrink + enlarge closely outside the number's box."""
    y, x = np.mgrid[0:128, 0:128]
    smooth = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.uint8)
    out, info = crappify(Image.fromarray(smooth), rng=np.random.default_rng(0), return_info=True)
    diff = np.abs(np.asarray(out).astype(float) - smooth)
    x0, y0, x1, y1 = info["box"]
    diff[y0:y1, x0:x1] = 0
    assert diff[4:-4, 4:-4].mean() < 4


def test_bad_input():
    with pytest.raises(TypeError, match="expected a PIL image, got ndarray"):
        crappify(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="scale must be a finite number of at least 1"):
        crappify(photo(), scale=0.5)


@pytest.mark.parametrize("seed", range(20))
def test_paired_random_crop_cuts_both_alike_and_holds_the_box(seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    a, b = Image.fromarray(pixels), Image.fromarray(255 - pixels)
    box = (30, 10, 45, 22)
    ca, cb = paired_random_crop([a, b], 24, rng, box=box)
    assert ca.size == cb.size == (24, 24)
    np.testing.assert_array_equal(np.asarray(ca), 255 - np.asarray(cb))  # the same window
    # find the window in the source: it must contain the whole box
    flat = np.asarray(ca)
    ys, xs = np.nonzero([[np.array_equal(pixels[y:y + 24, x:x + 24], flat) for x in range(47)]
                         for y in range(27)])
    x, y = int(xs[0]), int(ys[0])
    assert x <= box[0] and y <= box[1] and x + 24 >= box[2] and y + 24 >= box[3]


def test_validation_pairs_are_the_same_corner_tiles_every_time():
    photo = Image.fromarray(np.random.default_rng(3).integers(0, 256, (90, 120, 3), np.uint8))
    first, again = validation_pairs(photo, 1, 64, 4), validation_pairs(photo, 1, 64, 4)
    corners = [(0, 0), (56, 0), (0, 26), (56, 26)]
    for (lr, hr, box), (lr2, _, box2), (x, y) in zip(first, again, corners):
        np.testing.assert_array_equal(np.asarray(hr), np.asarray(photo)[y:y + 64, x:x + 64])
        assert lr.tobytes() == lr2.tobytes() and box == box2
    assert first[0][0].tobytes() != validation_pairs(photo, 0, 64, 4)[0][0].tobytes()
