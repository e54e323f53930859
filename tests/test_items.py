"""fastai's items: what indexing an item list, ``open_image`` and ``learn.predict`` give.

``Image`` (pixels as a Tensor, shown, saved, transformed and resized — the resize against torch's
``F.interpolate``), ``Category`` (an index that prints as its class name), ``il[0]`` and
``ds[0]`` giving them, ``show_image``'s matplotlib options, and ``learn.predict`` /
``learn.pred_batch(reconstruct=True)`` returning fastai's objects.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image as PILImage

import minitorch
from minitorch import nn
from minitorch.data import Category, CategoryList, DataBunch, LabelList
from minitorch.learner import Learner
from minitorch.nn import functional as F
from minitorch.vision import (
    Flatten, Image, ImageImageList, ImageList, flip_lr, imagenet_stats, open_image, rand_pad,
    show_image)
from torch_compare import assert_close, to_numpy, tolerance


def pixels(*shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


# ---- Image ---------------------------------------------------------------------------------------
def test_image_wraps_a_tensor_of_pixels():
    t = minitorch.tensor(pixels(3, 4, 5))
    image = Image(t)
    assert image.data is t and image.px is t and image.shape == (3, 4, 5) and image.size == (4, 5)
    assert repr(image) == "Image (3, 4, 5)"
    from_array = Image(pixels(1, 2, 2))
    assert isinstance(from_array.data, minitorch.Tensor) and from_array.data.dtype == minitorch.float32
    assert Image(from_array).data is from_array.data
    assert from_array._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"expected pixels of shape \(C, H, W\), got shape \(4, 5\)"):
        Image(pixels(4, 5))


@pytest.mark.parametrize("mode,channels", [("RGB", 3), ("L", 1)])
def test_open_image_reads_a_file_as_pixels_in_0_1(tmp_path, mode, channels):
    rgb = (pixels(6, 7, 3) * 255).astype(np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / "photo.png")
    image = open_image(tmp_path / "photo.png", convert_mode=mode)
    expected = np.asarray(PILImage.fromarray(rgb).convert(mode), dtype=np.float32).reshape(6, 7, -1)
    assert image.shape == (channels, 6, 7)
    np.testing.assert_allclose(to_numpy(image.data), expected.transpose(2, 0, 1) / 255, rtol=1e-6)
    raw = open_image(tmp_path / "photo.png", div=False, convert_mode=mode)
    np.testing.assert_array_equal(to_numpy(raw.data), expected.transpose(2, 0, 1))


def test_image_save_and_open_round_trip(tmp_path):
    image = Image(minitorch.tensor(np.round(pixels(3, 5, 4) * 255) / 255))
    image.save(tmp_path / "out.png")
    np.testing.assert_allclose(to_numpy(open_image(tmp_path / "out.png").data),
                               to_numpy(image.data), atol=1e-6)


@pytest.mark.parametrize("size", [(6, 9), (3, 4), (5, 5)])
def test_image_resize_is_bilinear_sampling_of_the_whole_image_as_torch(size):
    array = pixels(3, 5, 7, seed=1).astype(np.float64)
    image = Image(minitorch.tensor(array.astype(np.float32)))
    assert image.resize(size) is image and image.size == size
    expected = TF.interpolate(torch.from_numpy(array)[None], size=size, mode="bilinear",
                              align_corners=True)[0]
    assert_close(image.data, expected.float(), **tolerance(np.float32))
    assert Image(minitorch.rand(1, 4, 4)).resize(2).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="Image.resize: expected a positive int"):
        image.resize((0, 3))


def test_image_apply_tfms_makes_a_new_transformed_image():
    array = pixels(3, 6, 8)
    image = Image(minitorch.tensor(array))
    flipped = image.apply_tfms([flip_lr(p=1.0)])
    assert flipped is not image
    np.testing.assert_allclose(to_numpy(flipped.data), array[..., ::-1], atol=1e-7)
    np.testing.assert_array_equal(to_numpy(image.data), array)  # the original is unchanged
    assert image.apply_tfms([], size=4).shape == (3, 4, 4)
    padded = image.apply_tfms(rand_pad(2, (6, 8), mode="zeros"))  # a batch function works too
    assert padded.shape == (3, 6, 8)
    assert image.apply_tfms(None) is image


def test_image_show_and_show_image_take_fastais_arguments():
    image = Image(minitorch.tensor(pixels(1, 4, 4)))
    ax = image.show(figsize=(2, 2), title="four", interpolation="nearest", cmap="gray")
    shown = ax.get_images()[0]
    assert ax.get_title() == "four" and shown.get_interpolation() == "nearest"
    assert shown.get_cmap().name == "gray" and tuple(ax.figure.get_size_inches()) == (2, 2)
    assert not ax.axison
    assert show_image(image, ax=ax) is ax
    visible = show_image(image, hide_axis=False, alpha=0.5)  # a figure of its own
    assert visible.axison and visible.get_images()[0].get_alpha() == 0.5
    colour = show_image(Image(minitorch.tensor(pixels(3, 4, 4))), figsize=(3, 3))
    np.testing.assert_allclose(colour.get_images()[0].get_array(),
                               pixels(3, 4, 4).transpose(1, 2, 0), atol=1e-7)


# ---- Category, and indexing item lists --------------------------------------------------------------
def test_category_prints_as_its_class_and_compares_by_index():
    cat = Category(minitorch.tensor(1), "odd")
    assert str(cat) == "odd" and repr(cat) == "Category odd" and int(cat) == 1
    assert cat == Category(minitorch.tensor(1), "odd") and cat != Category(minitorch.tensor(0), "even")
    assert cat != "odd"  # an item is not its name (as in fastai)


def test_indexing_an_image_list_gives_images_and_a_label_list_gives_pairs(tmp_path):
    images = (pixels(4, 1, 5, 5) * 255).astype(np.uint8)
    for i, image in enumerate(images):
        (tmp_path / "train" / str(i % 2)).mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(image[0]).save(tmp_path / "train" / str(i % 2) / f"{i}.png")
    il = ImageList.from_folder(tmp_path, convert_mode="L")
    first = il[0]
    assert isinstance(first, Image) and first.shape == (1, 5, 5)
    np.testing.assert_allclose(to_numpy(first.data), to_numpy(open_image(il.items[0], convert_mode="L").data))
    assert isinstance(il[1:3], ImageList) and len(il[1:3]) == 2
    in_memory = ImageList.from_arrays(images)
    np.testing.assert_allclose(to_numpy(in_memory[2].data), images[2] / 255, rtol=1e-6)
    x, y = il.split_by_idx([0]).label_from_folder().train[0]
    assert isinstance(x, Image) and isinstance(y, Category) and str(y) == il.items[1].parent.name


# ---- predict and pred_batch --------------------------------------------------------------------------
def class_data():
    def labelled(n, seed):
        return LabelList(ImageList.from_arrays((pixels(n, 3, 4, 4, seed=seed) * 255).astype(np.uint8)),
                         CategoryList(np.arange(n) % 2, ["even", "odd"]))
    return DataBunch.create(labelled(8, 0), labelled(4, 1), bs=4).normalize(imagenet_stats)


def test_predict_takes_an_image_and_gives_fastais_triple():
    data = class_data()
    learn = Learner(data, nn.Sequential(Flatten(), nn.Linear(48, 2)), loss_func=F.cross_entropy,
                    silent=True)
    image = data.valid_ds.x[1]  # an Image, pixels in [0, 1]: predict normalises it
    category, index, probs = learn.predict(image)
    xb = next(iter(data.valid_dl))[0]  # the same image as the loader normalised it
    with minitorch.no_grad():
        expected = learn.model.eval()(xb).softmax(-1)
    np.testing.assert_allclose(to_numpy(probs), to_numpy(expected)[1], rtol=1e-5)
    assert isinstance(category, Category) and int(index) == int(to_numpy(probs).argmax())
    assert str(category) == data.classes[int(index)]
    same = learn.predict(image.data)  # its pixels as a Tensor do the same
    np.testing.assert_allclose(to_numpy(same[2]), to_numpy(probs), rtol=1e-6)
    labels = learn.pred_batch(batch=next(iter(data.valid_dl)), reconstruct=True)
    assert [str(c) for c in labels] == [data.classes[i] for i in to_numpy(expected).argmax(1)]


def test_pred_batch_reconstruct_gives_denormalised_images():
    lo, hi = pixels(6, 3, 4, 4), pixels(6, 3, 8, 8, seed=2)
    data = (ImageImageList.from_arrays(lo).split_by_idx([0, 1])
            .label_from_func(lambda path: hi[int(path.name)]).databunch(bs=2)
            .normalize(imagenet_stats, do_y=True))
    learn = Learner(data, nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 3, 1)),
                    loss_func=F.mse_loss, silent=True)
    batch = next(iter(data.valid_dl))
    images = learn.pred_batch(batch=batch, reconstruct=True)
    raw = to_numpy(learn.pred_batch(batch=batch))
    mean, std = (np.array(s, np.float32)[:, None, None] for s in imagenet_stats)
    assert len(images) == 2 and all(isinstance(i, Image) for i in images)
    np.testing.assert_allclose(to_numpy(images[1].data), np.clip(raw[1] * std + mean, 0, 1), atol=1e-6)
    item, pred, out = learn.predict(Image(minitorch.tensor(lo[1])))
    assert isinstance(item, Image) and item.shape == (3, 8, 8)
    np.testing.assert_allclose(to_numpy(out), raw[1] * std + mean, atol=1e-5)
    assert Image(pred).shape == (3, 8, 8)  # the notebook's Image(img_hr)
