"""Image data: the sampler against ``torch.nn.functional.grid_sample``, every transform of
``get_transforms`` against the same transform written out by hand, ``tfm_y`` (the same random
draws on input and target, at any resolution), and the super-resolution lesson's data block
(``ImageImageList`` from files, ``normalize(imagenet_stats, do_y=True)``, ``show_batch``)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image

import minitorch
from minitorch import backend
from minitorch.data import CategoryList, DataBunch, DatasetType, ItemList, LabelList, rand_pad
from minitorch.vision import (
    ImageImageList, ImageList, brightness, contrast, crop_pad, dihedral, flip_lr, get_transforms,
    imagenet_stats, rand_crop, rotate, symmetric_warp, zoom)
from minitorch.vision.image import grid_sample, logit, normalised_grid, sigmoid
from minitorch.vision.transform import apply_tfms, crop_coords


def torch_sample(image, coords, padding_mode="reflection"):
    """The reference: PyTorch's grid_sample, bilinear, align_corners=True."""
    out = TF.grid_sample(torch.tensor(image[None], dtype=torch.float64),
                         torch.tensor(coords[None], dtype=torch.float64), mode="bilinear",
                         padding_mode=padding_mode, align_corners=True)
    return out[0].numpy()


def assert_close(got, expected, atol=1e-5, what=""):
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    error = np.abs(got - expected)
    if error.max() > atol:
        worst = np.argsort(error, axis=None)[::-1][:5]
        rows = [f"  at {np.unravel_index(i, error.shape)}: got {got.flat[i]:.6f}, expected "
                f"{expected.flat[i]:.6f}" for i in worst]
        raise AssertionError(f"{what}: max error {error.max():.3g} > {atol}\n" + "\n".join(rows))


def run(image, *tfms, size=None, is_y=False):
    """``image`` through ``tfms``, each applied (p=1) with the values it draws."""
    rng = np.random.default_rng(0)
    params = [{k: v[0] for k, v in tfm.draw(1, rng).items()} for tfm in tfms]
    return apply_tfms(image.astype(np.float32), list(tfms), params, size, is_y)


RNG = np.random.default_rng(42)
IMAGE = RNG.random((3, 7, 9)).astype(np.float32)  # not square: the axes cannot be confused


# ---- the sampler ---------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_mode", ["reflection", "border", "zeros"])
@pytest.mark.parametrize("shape", [(1, 5, 5), (3, 7, 9), (2, 1, 6)])
def test_grid_sample_matches_torch(padding_mode, shape):
    rng = np.random.default_rng(sum(shape))
    image = rng.random(shape)
    coords = rng.uniform(-2.5, 2.5, (6, 8, 2))  # far outside the image too
    coords[0, :3] = [[-1, -1], [1, 1], [0, 0]]  # exact corners and the centre
    assert_close(grid_sample(image, coords, padding_mode), torch_sample(image, coords, padding_mode),
                 atol=1e-6, what=padding_mode)


def test_grid_sample_at_the_pixel_grid_is_the_identity():
    assert_close(grid_sample(IMAGE, normalised_grid(7, 9)), IMAGE, atol=1e-6)


# ---- each transform against the same thing written out by hand ------------------------------------
DIHEDRAL = [  # k, the same symmetry in NumPy
    (0, lambda x: x), (1, lambda x: x[:, ::-1]), (2, lambda x: x[:, :, ::-1]),
    (3, lambda x: x[:, ::-1].transpose(0, 2, 1)), (4, lambda x: x[:, ::-1, ::-1]),
    (5, lambda x: x[:, :, ::-1].transpose(0, 2, 1)), (6, lambda x: x.transpose(0, 2, 1)),
    (7, lambda x: x[:, ::-1, ::-1].transpose(0, 2, 1)),
]


def test_flip_lr_is_the_mirror_image():
    np.testing.assert_array_equal(run(IMAGE, flip_lr(p=1.0)), IMAGE[..., ::-1])


@pytest.mark.parametrize("k,by_hand", DIHEDRAL, ids=[f"k{k}" for k, _ in DIHEDRAL])
def test_dihedral_is_the_symmetry_of_the_square(k, by_hand):
    square = IMAGE[:, :7, :7]
    np.testing.assert_array_equal(run(square, dihedral(k=k)), by_hand(square))


def test_rotation_by_a_right_angle_is_rot90():
    square = IMAGE[:, :7, :7]
    assert_close(run(square, rotate(degrees=90.0)), np.rot90(square, k=1, axes=(1, 2)), atol=1e-6)


@pytest.mark.parametrize("degrees", [30.0, -12.5])
def test_rotation_reads_the_input_at_the_rotated_coordinates(degrees):
    grid = normalised_grid(7, 9)
    angle = math.radians(degrees)
    x, y = grid[..., 0], grid[..., 1]
    by_hand = np.stack([math.cos(angle) * x - math.sin(angle) * y,
                        math.sin(angle) * x + math.cos(angle) * y], axis=-1)
    assert_close(run(IMAGE, rotate(degrees=degrees)), torch_sample(IMAGE, by_hand), atol=1e-5)


@pytest.mark.parametrize("scale,row_pct,col_pct", [(2.0, 0.5, 0.5), (1.5, 0.0, 1.0), (1.1, 0.3, 0.8)])
def test_zoom_reads_a_smaller_window(scale, row_pct, col_pct):
    grid = normalised_grid(7, 9)
    shift = 1 - 1 / scale
    by_hand = np.stack([grid[..., 0] / scale + shift * (2 * col_pct - 1),
                        grid[..., 1] / scale + shift * (2 * row_pct - 1)], axis=-1)
    got = run(IMAGE, zoom(scale=scale, row_pct=row_pct, col_pct=col_pct))
    assert_close(got, torch_sample(IMAGE, by_hand), atol=1e-5)


def test_symmetric_warp_moves_the_corners_and_keeps_lines_straight():
    m = (0.1, -0.2, 0.15, 0.05)
    warp = symmetric_warp()
    corners = np.array([[[-1., -1.], [-1., 1.], [1., -1.], [1., 1.]]])
    # fastai's targets: the corner (-1,-1) reads from (-1 - m3, -1 - m1), ...
    targets = [[-1 - m[3], -1 - m[1]], [-1 - m[2], 1 + m[1]], [1 + m[3], -1 - m[0]],
               [1 + m[2], 1 + m[0]]]
    assert_close(warp.coords(corners, *m)[0], targets, atol=1e-12, what="corners")
    # A perspective map sends a straight line to a straight line.
    line = np.stack([np.linspace(-1, 1, 11), 0.3 * np.linspace(-1, 1, 11) + 0.2], axis=-1)[None]
    moved = warp.coords(line, *m)[0]
    d1, d2 = moved[1:] - moved[0], moved[-1] - moved[0]
    assert np.abs(d1[:, 0] * d2[1] - d1[:, 1] * d2[0]).max() < 1e-12
    assert_close(warp.coords(corners, 0, 0, 0, 0)[0], corners[0], atol=1e-12, what="identity")
    # The image is read at the warped coordinates.
    tfm = symmetric_warp(magnitude=0.2)  # a fixed magnitude: every corner moved by 0.2
    grid = normalised_grid(7, 9)
    assert_close(run(IMAGE, tfm), torch_sample(IMAGE, tfm.coords(grid, .2, .2, .2, .2)), atol=1e-5)


@pytest.mark.parametrize("tfm,by_hand", [
    (brightness(change=0.7), lambda x: sigmoid(logit(x) + math.log(0.7 / 0.3))),
    (brightness(change=0.5), lambda x: np.clip(x, 1e-7, 1 - 1e-7)),
    (contrast(scale=1.5), lambda x: sigmoid(logit(x) * 1.5)),
], ids=["brighter", "unchanged", "more contrast"])
def test_lighting_works_on_the_logits(tfm, by_hand):
    assert_close(run(IMAGE, tfm), by_hand(IMAGE.astype(np.float64)), atol=1e-6)
    np.testing.assert_array_equal(run(IMAGE, tfm, is_y=True), IMAGE)  # never on a target


@pytest.mark.parametrize("row_pct,col_pct", [(0.5, 0.5), (0.0, 0.0), (1.0, 1.0), (0.3, 0.9)])
def test_crop_to_size_is_a_resize_then_a_window(row_pct, col_pct):
    image = RNG.random((2, 12, 18)).astype(np.float32)
    resized = TF.interpolate(torch.tensor(image[None], dtype=torch.float64), size=(6, 9),
                             mode="bilinear", align_corners=True)[0].numpy()
    top, left = int((6 - 6) * row_pct), int((9 - 6) * col_pct)
    got = run(image, crop_pad(row_pct=row_pct, col_pct=col_pct), size=6)
    assert_close(got, resized[:, top:top + 6, left:left + 6], atol=1e-5)


def test_no_transform_at_the_images_own_size_changes_nothing():
    np.testing.assert_array_equal(run(IMAGE, crop_pad(), size=(7, 9)), IMAGE)


def test_get_transforms_has_fastais_defaults():
    train, valid = get_transforms()
    assert [type(t).__name__ for t in train] == [
        "crop_pad", "flip_lr", "symmetric_warp", "rotate", "zoom", "brightness", "contrast"]
    crop, flip, warp, rot, zm, bright, cont = train
    assert crop.params == {"row_pct": (0, 1), "col_pct": (0, 1)} and flip.p == 0.5
    assert warp.params["m0"] == (-0.2, 0.2) and warp.p == 0.75
    assert rot.params == {"degrees": (-10., 10.)} and rot.p == 0.75
    assert zm.params["scale"] == (1., 1.1) and zm.params["row_pct"] == (0, 1) and zm.p == 0.75
    assert bright.params["change"] == pytest.approx((0.4, 0.6)) and bright.p == 0.75
    assert cont.params["scale"] == pytest.approx((0.8, 1.25)) and not cont.use_on_y
    assert [type(t).__name__ for t in valid] == ["crop_pad"] and valid[0].params["row_pct"] == 0.5
    assert get_transforms(max_zoom=2.)[0][4].params["scale"] == (1., 2.)
    assert isinstance(get_transforms(flip_vert=True)[0][1], dihedral)
    assert len(get_transforms(max_warp=0, max_rotate=0, max_zoom=1, max_lighting=0)[0]) == 2


def test_draws_follow_minitorchs_seed():
    def draw():
        minitorch.manual_seed(3)
        return [t.draw(4, backend.rng()) for t in get_transforms()[0]]
    first, second = draw(), draw()
    for a, b in zip(first, second):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


# ---- tfm_y: the same draws on input and target ---------------------------------------------------
def ramp(height, width, channels=3):
    """A linear ramp in normalised coordinates: bilinear sampling reproduces it exactly at any
    resolution, so an input and a target of different sizes read at the same coordinates agree."""
    grid = normalised_grid(height, width)
    image = np.stack([0.5 + 0.2 * grid[..., 0] + (0.1 * c - 0.1) * grid[..., 1]
                      for c in range(channels)])
    return image.astype(np.float32)


def ramp_bunch(tfms, n=8, bs=4, size=8, **kwargs):
    """Inputs: 12x16 ramps (each its own slope sign); targets: the same ramps at 24x32."""
    signs = np.where(np.arange(n) % 2, -1, 1).astype(np.float32)[:, None, None, None]
    lo = ImageImageList.from_arrays(0.5 + signs * (np.stack([ramp(12, 16)] * n) - 0.5))
    hi = (0.5 + signs * (np.stack([ramp(24, 32)] * n) - 0.5)).astype(np.float32)
    return (lo.split_by_idx([0, 1, 2, 3])
            .label_from_func(lambda path: hi[int(path.name)])  # targets: arrays, as items
            .transform(tfms, size=size, tfm_y=True).databunch(bs=bs, **kwargs))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tfm_y_puts_the_same_crop_flip_warp_rotation_and_zoom_on_x_and_y(seed):
    minitorch.manual_seed(seed)
    data = ramp_bunch(get_transforms(max_zoom=2., max_lighting=0))
    for xb, yb in data.train_dl:
        assert xb.shape == yb.shape == (4, 3, 8, 8)
        assert_close(xb.numpy(), yb.numpy(), atol=1e-5, what="x vs y")
    # ... and the draws did move things: some items are not the plain centre crop of either ramp.
    centres = [run(0.5 + sign * (ramp(12, 16) - 0.5), crop_pad(), size=8) for sign in (1, -1)]
    xb, _ = data.one_batch(DatasetType.Train)
    assert any(min(np.abs(x - c).max() for c in centres) > 0.05 for x in xb.numpy())


def test_tfm_y_leaves_lighting_to_the_input():
    minitorch.manual_seed(0)
    data = ramp_bunch(([brightness(change=0.7), flip_lr(p=1.0)], []))
    xb, yb = next(iter(data.train_dl))
    y = yb.numpy()
    centres = [run(0.5 + sign * (ramp(24, 32) - 0.5), crop_pad(), size=8) for sign in (1, -1)]
    for target in y:  # flipped (use_on_y), not brightened
        assert min(np.abs(target[..., ::-1] - c).max() for c in centres) < 1e-5
    assert_close(xb.numpy(), sigmoid(logit(y.astype(np.float64)) + math.log(0.7 / 0.3)), atol=1e-5)


def test_tfm_y_needs_transforms_that_draw_once():
    lists = ImageImageList.from_arrays(np.zeros((4, 1, 6, 6), np.uint8)).split_by_idx([0])
    labelled = lists.label_from_func(lambda item: np.zeros((1, 6, 6), np.float32))
    with pytest.raises(TypeError, match="tfm_y=True needs transforms that draw"):
        labelled.transform((rand_pad(1, 6), []), tfm_y=True)
    classes = lists.label_from_func(lambda item: "a", label_cls=CategoryList).transform(
        get_transforms(), tfm_y=True)
    with pytest.raises(TypeError, match="class labels cannot be transformed"):
        classes.train[0]


# ---- the super-resolution lesson's data block, on files ----------------------------------------------
def write_pairs(root, n=6):
    """``root/lr/<i>.png`` (12x16) and ``root/hr/<i>.png`` (24x32): ramps, the high-resolution
    one the same picture at twice the size."""
    (root / "lr").mkdir(parents=True)
    (root / "hr").mkdir()
    for i in range(n):
        for folder, (h, w) in (("lr", (12, 16)), ("hr", (24, 32))):
            pixels = np.round(ramp(h, w) * 255).astype(np.uint8).transpose(1, 2, 0)
            Image.fromarray(pixels, "RGB").save(root / folder / f"{i}.png")
    return root / "lr", root / "hr"


def test_super_resolution_data_block_from_folders(tmp_path):
    path_lr, path_hr = write_pairs(tmp_path)
    minitorch.manual_seed(0)
    data = (ImageImageList.from_folder(path_lr).split_by_func(lambda p: p.stem in ("0", "1"))
            .label_from_func(lambda p: path_hr / p.name)
            .transform(get_transforms(max_zoom=2., max_lighting=0), size=8, tfm_y=True)
            .databunch(bs=2).normalize(imagenet_stats, do_y=True))
    assert isinstance(data.train_ds.y, ImageList) and data.c == 3 and data.classes is None
    assert len(data.train_ds) == 4 and len(data.valid_ds) == 2
    mean, std = (np.array(s, np.float32)[:, None, None] for s in imagenet_stats)
    xb, yb = next(iter(data.train_dl))
    assert xb.shape == yb.shape == (2, 3, 8, 8) and yb.dtype == minitorch.float32
    # Both normalised; back in pixels they agree (the PNGs are rounded to 1/255).
    x, y = xb.numpy() * std + mean, yb.numpy() * std + mean
    assert_close(x, y, atol=3 / 255, what="x vs y")
    shown_x, shown_y = data.one_batch(DatasetType.Valid)
    assert 0 <= shown_y.numpy().min() and shown_y.numpy().max() <= 1
    assert_close(shown_x.numpy(), shown_y.numpy(), atol=3 / 255)
    figure = data.show_batch(rows=2, path=tmp_path / "batch.png")
    assert len(figure.axes) == 4 and (tmp_path / "batch.png").read_bytes()[:4] == b"\x89PNG"
    assert [ax.get_title() for ax in figure.axes[:2]] == ["input", "target"]


def test_image_files_of_different_sizes_need_a_size(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (5, 4)).save(tmp_path / "a" / "0.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "a" / "1.png")
    il = ImageList.from_folder(tmp_path)
    ds = LabelList(il, CategoryList(["x", "y"]))
    with pytest.raises(ValueError, match=r"cannot be stacked.*transform\(\.\.\., size=\.\.\.\)"):
        ds.get_batch(np.arange(2))
    ds.size = 4
    x, y = ds.get_batch(np.arange(2))
    assert x.shape == (2, 3, 4, 4) and y.tolist() == [0, 1]


# ---- item lists: the extension points --------------------------------------------------------------
class NoiseList(ItemList):
    """A GAN's inputs: every access draws a fresh vector (nothing cached)."""

    def get(self, i):
        return backend.rng().standard_normal(4).astype(np.float32)

    def reconstruct(self, t):
        return t.numpy()


def test_an_item_list_may_draw_a_fresh_item_at_every_access():
    x = NoiseList(range(8))
    y = CategoryList(["a", "b"] * 4)
    data = DataBunch.create(LabelList(x, y), LabelList(x.new(range(4)), y.new(["a"] * 4)), bs=4)
    first = np.concatenate([xb.numpy() for xb, _ in data.valid_dl])
    second = np.concatenate([xb.numpy() for xb, _ in data.valid_dl])
    assert first.shape == (4, 4) and not np.allclose(first, second)
    assert data.c == 2 and data.one_batch()[0].shape == (4, 4)


def test_split_and_label_steps():
    il = ItemList([f"f{i}" for i in range(10)])
    lists = il.split_by_valid_func(lambda item: item in ("f3", "f7"))
    assert lists.valid.items == ["f3", "f7"] and len(lists.train) == 8
    assert il.split_by_func(lambda item: item == "f0").valid.items == ["f0"]
    assert il.split_by_idxs([0, 1], [2]).valid.items == ["f2"]
    labelled = lists.label_from_func(lambda item: int(item[1:]) % 3)
    assert labelled.classes == ["0", "1", "2"] and labelled.valid.y.items.tolist() == [0, 1]
    by_list = lists.label_from_list(["b", "a"] * 4, ["a", "b"])
    assert by_list.train.y.classes == ["a", "b"] and by_list.valid.y.items.tolist() == [0, 1]
    assert il[2] == "f2" and il[[1, 2]].items == ["f1", "f2"] and len(il[2:]) == 8
    with pytest.raises(ValueError, match=r"validation set has labels \['c'\]"):
        lists.label_from_list(["a"] * 8, ["a", "c"])
