"""Three data-block bugs the course's notebooks ran into, each pinned by a test that failed before
its fix:

* ``rand_pad`` on images opened from files (a list of arrays, not one array): the MNIST
  notebook's own pipeline, ``from_folder(...)...transform(rand_pad...).databunch().normalize()``;
* ``one_batch``/``show_batch`` denormalising inputs that were never normalised
  (``normalize(..., do_x=False, do_y=True)``, the WGAN notebook);
* ``label_from_func`` on a folder given by a relative path: the function gets the items' paths
  as fastai gives them (``lr/0.png``) and a path it returns is opened as it is, never joined to
  the folder a second time (``lr/lr/0.png``).
"""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from minitorch.data import DatasetType
from minitorch.vision import (
    GANItemList, ImageImageList, ImageList, imagenet_stats, noop, rand_pad)
from torch_compare import to_numpy


def _write_digits(root, n=12, size=8):
    """n grey images in train/<label>/ and valid/<label>/; returns them as one uint8 array in
    the order ``from_folder`` lists them (sorted paths)."""
    images = np.random.default_rng(0).integers(1, 256, (n, 1, size, size)).astype(np.uint8)
    paths = []
    for i, image in enumerate(images):
        path = root / ("train" if i < n - 4 else "valid") / str(i % 2) / f"{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(image[0]).save(path)
        paths.append(path)
    order = sorted(range(n), key=lambda i: paths[i])
    return images[order], [paths[i].relative_to(root).as_posix() for i in order]


def test_rand_pad_runs_on_images_opened_from_files_as_on_images_in_memory(tmp_path):
    images, names = _write_digits(tmp_path)
    tfms = ([*rand_pad(padding=3, size=8, mode="zeros")], [])

    def bunch(il):  # on the host: in memory on a GPU the shifts would come from its generator
        return (il.split_by_folder().label_from_folder().transform(tfms)
                .databunch(bs=4, seed=0, device="cpu").normalize())
    from_files = bunch(ImageList.from_folder(tmp_path, convert_mode="L"))
    in_memory = bunch(ImageList.from_arrays(images, names))
    batches = 0
    for (xf, yf), (xm, ym) in zip(from_files.train_dl, in_memory.train_dl):
        assert tuple(xf.shape) == (4, 1, 8, 8)
        np.testing.assert_array_equal(to_numpy(xf), to_numpy(xm))  # the same shifts, drawn alike
        np.testing.assert_array_equal(to_numpy(yf), to_numpy(ym))
        batches += 1
    assert batches == 2 and (to_numpy(xf) == to_numpy(xf).min()).any()  # zero padding came in


def test_one_batch_leaves_inputs_alone_when_only_the_targets_were_normalised():
    lo = np.random.default_rng(1).random((6, 3, 4, 4)).astype(np.float32)
    hi = np.random.default_rng(2).random((6, 3, 8, 8)).astype(np.float32)
    data = (ImageImageList.from_arrays(lo).split_by_idx([0, 1])
            .label_from_func(lambda path: hi[int(path.name)]).databunch(bs=2)
            .normalize(imagenet_stats, do_x=False, do_y=True))
    x, y = data.one_batch(DatasetType.Valid)  # the validation items 0 and 1, in order
    np.testing.assert_array_equal(to_numpy(x), lo[:2])  # never normalised: left as they are
    np.testing.assert_allclose(to_numpy(y), hi[:2], atol=1e-6)  # normalised: back to pixels
    data.show_batch(rows=2)


def test_a_gans_noise_inputs_are_not_denormalised():
    images = np.random.default_rng(0).integers(0, 256, (8, 3, 4, 4)).astype(np.uint8)
    data = (GANItemList.from_arrays(images, noise_sz=5).split_none().label_from_func(noop)
            .databunch(bs=4).normalize(([0.5] * 3, [0.5] * 3), do_x=False, do_y=True))
    x, y = data.one_batch()
    assert tuple(x.shape) == (4, 5, 1, 1) and tuple(y.shape) == (4, 3, 4, 4)
    assert 0 <= to_numpy(y).min() and to_numpy(y).max() <= 1  # targets back in [0, 1]
    data.show_batch(rows=2)


@pytest.fixture
def relative_folders(tmp_path, monkeypatch):
    """lr/0.png and hr/0.png in the current folder, and a trap: lr/lr/0.png, what joining the
    folder twice would open."""
    monkeypatch.chdir(tmp_path)
    for folder, value in (("lr", 10), ("hr", 200), ("lr/lr", 99)):
        Path(folder).mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(np.full((4, 4), value, np.uint8)).save(Path(folder) / "0.png")
    return tmp_path


def test_label_from_func_sees_the_items_paths_and_its_paths_are_opened_as_they_are(relative_folders):
    seen = []
    src = ImageImageList.from_folder("lr", convert_mode="L", recurse=False).split_none()
    ll = src.label_from_func(lambda x: seen.append(x) or Path("hr") / x.name)
    assert seen == [Path("lr/0.png")]  # the item's path, joined once, as fastai's
    assert to_numpy(ll.train[0][1].data).max() == pytest.approx(200 / 255)  # hr/0.png
    itself = src.label_from_func(lambda x: x).train[0]
    assert to_numpy(itself[1].data).max() == pytest.approx(10 / 255)  # lr/0.png, not lr/lr/0.png
    assert to_numpy(itself[0].data).max() == pytest.approx(10 / 255)


def test_a_string_item_is_a_name_under_the_lists_folder(relative_folders):
    il = ImageList(["0.png"], path="hr", convert_mode="L")
    assert to_numpy(il[0].data).max() == pytest.approx(200 / 255)
    assert il._func_items() == [Path("hr/0.png")]
