"""fastai v1's helpers and idioms that the course's notebooks reach for, each as the notebooks use
it: ``Path.ls``, ``defaults``, ``children``, ``requires_grad``, ``parallel``, ``MSELossFlat``
(against torch), ``resize_to``, the star imports, ``callback_fns``, ``data.c``, ``imgsize``,
``crop_pad(size=...)``, ``from_folder(include=...)``, the older names, and the language-model
data block.
"""
import types
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image as PILImage

import minitorch
from minitorch import nn
from minitorch.nn import functional as F
from minitorch.core import children, defaults, parallel, requires_grad
from minitorch.data import CategoryList, DataBunch, ItemLists, LabelList
from minitorch.learner import Callback, Learner, LearnerCallback, MSELossFlat
from minitorch.text import TextList, TextLMDataBunch, human_numbers_databunch, human_numbers_text
from minitorch.text.human_numbers import TRAIN_RANGE, VALID_RANGE
from minitorch.vision import (
    Flatten, Image, ImageImageList, ImageItemList, ImageList, crop_pad, imagenet_stats, resize_to)
from torch_compare import DEVICE, check, to_numpy


@pytest.fixture
def saved_defaults():
    cmap, device = defaults.cmap, defaults._device
    yield defaults
    defaults.cmap, defaults._device = cmap, device


def grey_images(n=24, size=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 1, size, size)).astype(np.uint8)


def class_data(n_train=16, n_valid=8, bs=4):
    def labelled(n, seed):
        return LabelList(ImageList.from_arrays(grey_images(n, seed=seed)),
                         CategoryList(np.arange(n) % 2, ["even", "odd"]))
    return DataBunch.create(labelled(n_train, 0), labelled(n_valid, 1), bs=bs)


def tiny_model():
    return nn.Sequential(Flatten(), nn.Linear(16, 2))


# ---- Path.ls, defaults, children, requires_grad, parallel ------------------------------------------
def test_path_ls_lists_a_folder(tmp_path):
    for name in ("a.png", "b.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    assert sorted(tmp_path.ls()) == sorted(tmp_path.iterdir())
    assert all(isinstance(p, Path) for p in tmp_path.ls()) and len(tmp_path.ls()) == 3


def test_defaults_cmap_is_what_a_one_channel_image_is_shown_in(saved_defaults):
    assert defaults.cmap == "viridis"  # fastai's default; the MNIST notebook sets 'binary'
    image = Image(minitorch.rand(1, 3, 3))
    assert image.show().get_images()[0].get_cmap().name == "viridis"
    defaults.cmap = "binary"
    assert image.show().get_images()[0].get_cmap().name == "binary"
    assert image.show(cmap="gray").get_images()[0].get_cmap().name == "gray"


def test_defaults_device_is_where_new_databunches_put_their_batches(saved_defaults):
    assert defaults.device == DEVICE  # $MINITORCH_DEVICE until set
    defaults.device = "cpu"
    assert class_data().device == "cpu" and next(iter(class_data().train_dl))[0].device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        defaults.device = "tpu"


def test_children_are_the_direct_children_in_order_as_torch_lists_them():
    mt = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Sequential(nn.Conv2d(4, 4, 1)))
    tt = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1)))
    assert [type(m).__name__ for m in children(mt)] == [type(m).__name__ for m in tt.children()]
    assert children(mt)[3] is mt[3]
    # the superres notebook's layer picking: the layer before every max pool
    assert [i - 1 for i, m in enumerate(children(mt)) if isinstance(m, nn.MaxPool2d)] == [1]


def test_requires_grad_freezes_a_whole_module_and_reads_it_back():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert requires_grad(model) is True
    requires_grad(model, False)
    assert requires_grad(model) is False and not any(p.requires_grad for p in model.parameters())
    requires_grad(model, True)
    assert all(p.requires_grad for p in model.parameters())
    assert requires_grad(nn.ReLU()) is None  # no parameters


def _square_plus_index(item, index):
    return item * item + index


def _nothing(item, index):
    return None


def _fails_on_three(item, index):
    if item == 3:
        raise ValueError("three")
    return item


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_calls_func_with_item_and_index_and_keeps_the_order(workers):
    assert parallel(_square_plus_index, [5, 6, 7, 8], max_workers=workers) == [25, 37, 51, 67]
    assert parallel(_nothing, [1, 2], max_workers=workers) is None
    with pytest.raises(ValueError, match="three"):
        parallel(_fails_on_three, [1, 2, 3], max_workers=workers)


def test_parallel_with_one_worker_runs_here():
    seen = []
    parallel(lambda item, i: seen.append((i, item)), "ab", max_workers=1)
    assert seen == [(0, "a"), (1, "b")]


# ---- MSELossFlat against torch ---------------------------------------------------------------------
MSE_FLAT = [  # input shape, target shape, axis, reduction, integer target
    ((6, 1), (6,), -1, "mean", False),
    ((2, 3, 4, 5), (2, 3, 4, 5), -1, "mean", False),
    ((2, 3, 4), (2, 3, 4), 1, "none", False),
    ((5,), (5,), -1, "sum", True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_shape,t_shape,axis,reduction,integer", MSE_FLAT)
def test_mse_loss_flat_is_mse_of_the_flattened_tensors(in_shape, t_shape, axis, reduction,
                                                       integer, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(in_shape).astype(dtype)
    y = rng.integers(0, 3, t_shape) if integer else rng.standard_normal(t_shape).astype(dtype)

    def flat(t, torch_side):
        moved = t.transpose(axis, -1).reshape(-1)
        return moved.to(torch.from_numpy(x).dtype) if torch_side else moved
    check(lambda a, b: MSELossFlat(axis=axis, reduction=reduction)(a, b),
          lambda a, b: TF.mse_loss(flat(a, False), flat(b, True), reduction=reduction),
          [x, y], requires_grad=True)


def test_mse_loss_flat_refuses_a_target_of_another_size():
    with pytest.raises(ValueError, match="MSELossFlat: the input has 6 values"):
        MSELossFlat()(minitorch.randn(2, 3), minitorch.randn(5))


# ---- resize_to, the star imports ----------------------------------------------------------------------
def test_resize_to_keeps_the_aspect_ratio_in_pillows_order():
    photo = PILImage.new("RGB", (300, 200))  # width 300, height 200
    assert resize_to(photo, 100) == (100, 66)
    assert resize_to(photo, 100, use_min=True) == (150, 100)
    assert resize_to(Image(minitorch.zeros(3, 200, 300)), 100, use_min=True) == (150, 100)


def _star(module):
    namespace = {"data": "my data", "transforms": "mine"}
    exec(f"from {module} import *", namespace)
    return namespace


@pytest.mark.parametrize("module", ["minitorch.vision", "minitorch.text", "minitorch.data",
                                    "minitorch.learner", "minitorch.vision.gan", "minitorch.core"])
def test_star_imports_give_public_names_and_never_a_submodule(module):
    namespace = _star(module)
    assert namespace["data"] == "my data" and namespace["transforms"] == "mine"
    modules = sorted(k for k, v in namespace.items() if isinstance(v, types.ModuleType))
    assert modules == (["models"] if module == "minitorch.vision" else [])
    assert not [k for k in namespace if k.startswith("_") and k != "__builtins__"]


def test_vision_star_import_gives_what_the_notebooks_use():
    namespace = _star("minitorch.vision")
    for name in ["gan_critic", "basic_generator", "basic_critic", "requires_grad", "children",
                 "defaults", "parallel", "MSELossFlat", "Image", "open_image", "show_image",
                 "resize_to", "ImageList", "ImageItemList", "unet_learner", "Learner",
                 "DatasetType", "accuracy", "LossMetrics", "hook_outputs", "plot_multi",
                 "GANLearner", "AdaptiveLoss", "accuracy_thresh_expand", "rand_pad"]:
        assert name in namespace, name
    gan = _star("minitorch.vision.gan")
    assert {"gan_critic", "basic_generator", "basic_critic", "requires_grad"} <= set(gan)
    text = _star("minitorch.text")
    assert {"TextList", "ItemLists", "Learner", "BatchNorm1dFlat", "DatasetType"} <= set(text)


# ---- callback_fns -------------------------------------------------------------------------------------
class CountBatches(LearnerCallback):
    def __init__(self, learn=None, tag=""):
        super().__init__(learn)
        self.tag, self.batches = tag, 0
        MADE.append(self)

    def after_batch(self):
        self.batches += self.learn.training


MADE = []


def test_callback_fns_make_a_fresh_callback_for_every_fit():
    MADE.clear()
    learn = Learner(class_data(), tiny_model(), loss_func=F.cross_entropy, silent=True,
                    callback_fns=[partial(CountBatches, tag="a")])
    learn.fit(1, 1e-3)
    learn.fit(2, 1e-3)
    assert [(cb.tag, cb.batches) for cb in MADE] == [("a", 4), ("a", 8)]
    assert all(cb.learn is learn for cb in MADE)
    learn.callback_fns.append(partial(CountBatches, tag="b"))
    learn.fit(1, 1e-3)
    assert [(cb.tag, cb.batches) for cb in MADE[2:]] == [("a", 4), ("b", 4)]
    single = Learner(class_data(), tiny_model(), loss_func=F.cross_entropy, silent=True,
                     callback_fns=CountBatches)  # one function, not in a list
    assert len(single.callback_fns) == 1


def test_callback_fns_and_learner_callbacks_refuse_what_does_not_fit():
    with pytest.raises(TypeError, match="callback_fns must be functions"):
        Learner(class_data(), tiny_model(), loss_func=F.cross_entropy, callback_fns=[Callback()])
    with pytest.raises(TypeError, match="the first argument is the Learner"):
        CountBatches(5)


# ---- data.c, imgsize, crop_pad(size=), include=, the older names ----------------------------------------
def ramps(n, size):
    grid = np.linspace(0.2, 0.8, size, dtype=np.float32)
    return np.stack([np.broadcast_to(grid * (1 + 0.01 * k), (3, size, size)) for k in range(n)])


def image_pairs(bs=2):
    lo, hi = ramps(8, 4), ramps(8, 8)
    return (ImageImageList.from_arrays(lo).split_by_idx([0, 1])
            .label_from_func(lambda path: hi[int(path.name)]).databunch(bs=bs)
            .normalize(imagenet_stats, do_y=True))


def test_data_c_can_be_set_as_in_fastai():
    data = image_pairs()
    assert data.c == 3
    data.c = 5
    assert data.c == 5
    data.c = None
    assert data.c == 3


def test_imgsize_gives_every_image_that_many_inches():
    data = class_data()
    figure = data.show_batch(rows=2, imgsize=1.5)
    assert tuple(figure.get_size_inches()) == (3, 3)
    pairs = image_pairs()
    assert tuple(pairs.show_batch(rows=2, imgsize=2).get_size_inches()) == (4, 4)
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 3, 1))
    learn = Learner(pairs, up, loss_func=F.mse_loss, silent=True)
    assert tuple(learn.show_results(rows=1, imgsize=5).get_size_inches()) == (15, 5)


def test_crop_pad_size_is_the_output_size_unless_transform_gives_one():
    il = ImageList.from_arrays(ramps(6, 10))
    ll = il.split_by_idx([0]).label_from_func(lambda path: 0)
    crop = crop_pad(size=6, row_pct=(0, 1), col_pct=(0, 1))
    assert crop.size == (6, 6)
    assert ll.transform(([crop], [crop])).train[0][0].shape == (3, 6, 6)
    assert ll.transform(([crop], [crop]), size=4).train[0][0].shape == (3, 4, 4)


def _write_folders(root):
    for folder in ("a", "b", "c"):
        (root / folder).mkdir()
        PILImage.new("L", (3, 3)).save(root / folder / f"{folder}.png")
    PILImage.new("L", (3, 3)).save(root / "top.png")


def test_from_folder_include_and_exclude_pick_top_level_folders(tmp_path):
    _write_folders(tmp_path)
    names = lambda il: sorted(p.name for p in il.items)  # noqa: E731
    assert names(ImageList.from_folder(tmp_path, include=["a", "c"])) == ["a.png", "c.png", "top.png"]
    assert names(ImageList.from_folder(tmp_path, exclude=["b"])) == ["a.png", "c.png", "top.png"]
    assert names(ImageList.from_folder(tmp_path)) == ["a.png", "b.png", "c.png", "top.png"]
    with pytest.raises(TypeError, match=r"include must be a list of folder names.*\['a'\]"):
        ImageList.from_folder(tmp_path, include="a")


def test_the_older_names_of_the_notebooks_still_work():
    assert ImageItemList is ImageList
    il = ImageList.from_arrays(grey_images(10))
    old, new = il.random_split_by_pct(0.3, seed=1), il.split_by_rand_pct(0.3, seed=1)
    assert old.valid.items == new.valid.items and len(old.valid) == 3


# ---- the language model's data block ------------------------------------------------------------------
def test_text_lists_label_for_lm_as_the_human_numbers_notebook(tmp_path):
    train = TextList([human_numbers_text(TRAIN_RANGE)], path=tmp_path)
    valid = TextList([human_numbers_text(VALID_RANGE)], path=tmp_path)
    assert train[0].startswith("one, two")  # raw text until processed
    src = ItemLists(path=tmp_path, train=train, valid=valid).label_for_lm()
    data = src.databunch(bs=64)
    assert isinstance(data, TextLMDataBunch) and data.bptt == 70 and data.path == tmp_path
    assert train[0].text.startswith("xxbos one , two")  # processed in place: a Text now
    assert str(train[0]) == train[0].text
    assert len(data.valid_ds[0][0].data) == 13017 and data.valid_ds.vocab is train.vocab
    reference = human_numbers_databunch(bs=64)
    assert data.valid_ds.vocab.itos == reference.vocab.itos and len(data.vocab) == 38
    assert len(data.valid_dl) == len(reference.valid_dl) == 3
    for (x, y), (rx, ry) in zip(data.valid_dl, reference.valid_dl):
        np.testing.assert_array_equal(to_numpy(x), to_numpy(rx))
        np.testing.assert_array_equal(to_numpy(y), to_numpy(ry))
    x, y = src.databunch(bs=64, bptt=3).one_batch()
    assert tuple(x.shape) == tuple(y.shape) == (64, 3)


def test_label_for_lm_needs_texts():
    with pytest.raises(TypeError, match="label_for_lm: expected TextLists"):
        ImageList.from_arrays(grey_images(4)).split_by_idx([0]).label_for_lm()
    with pytest.raises(TypeError, match="expected the items to be texts"):
        ItemLists(".", TextList([np.arange(3)]), TextList(["a"])).label_for_lm()
