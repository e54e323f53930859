"""``save_preds`` (minitorch/vision/save_preds.py): one PNG per item of the loader, named like its
source, holding the model's (denormalised) prediction; no temporary files left behind; and the
folder of generated images next to the originals reads back as the critic's labelled data
(``ImageList.from_folder(...).split_by_rand_pct(...).label_from_folder()``)."""
import numpy as np
import pytest
from PIL import Image

import minitorch
from minitorch import nn
from minitorch.learner import Learner
from minitorch.nn import functional as F
from minitorch.vision import ImageImageList, ImageList, imagenet_stats
from minitorch.vision.save_preds import save_preds
from torch_compare import to_numpy

N_TRAIN, N_VALID, SIZE = 5, 2, 8


@pytest.fixture
def pairs(tmp_path):
    """lr/ and hr/ folders (train/ and valid/ inside) of random SIZE-px images, same names."""
    rng = np.random.default_rng(0)
    for split, n in (("train", N_TRAIN), ("valid", N_VALID)):
        for i in range(n):
            for kind in ("lr", "hr"):
                pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
                path = tmp_path / kind / split / f"photo_{split}_{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
    return tmp_path


def make_learner(root, normalize):
    src = (ImageImageList.from_folder(root / "lr").split_by_folder()
           .label_from_func(lambda p: root / "hr" / p.relative_to(root / "lr")))
    data = src.databunch(bs=2, val_bs=2, seed=0)  # fix_dl: 5 items in batches of 2, 2, 1
    if normalize:
        data = data.normalize(imagenet_stats, do_y=True)
    minitorch.manual_seed(0)
    return Learner(data, nn.Conv2d(3, 3, 1), loss_func=F.mse_loss)


@pytest.mark.parametrize("normalize", [False, True])
def test_one_png_per_item_holding_the_prediction(pairs, normalize):
    learn = make_learner(pairs, normalize)
    folder = pairs / "critic" / "image_gen"
    written = save_preds(learn.data.fix_dl, learn, folder)
    names = sorted(f"photo_train_{i}.png" for i in range(N_TRAIN))
    assert sorted(p.name for p in written) == names
    assert sorted(p.name for p in folder.iterdir()) == names  # no temporary files left
    preds = [to_numpy(learn.pred_batch(batch=b)) for b in learn.data.fix_dl]
    preds = np.concatenate(preds)
    if normalize:
        mean, std = (np.array(v, np.float32).reshape(1, 3, 1, 1) for v in imagenet_stats)
        preds = preds * std + mean
    expected = (np.clip(preds, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    for path, want in zip(written, expected):
        got = np.asarray(Image.open(path))
        np.testing.assert_array_equal(got, want, err_msg=path.name)


def test_the_critic_reads_the_generated_and_the_original_images_back_with_their_labels(pairs):
    learn = make_learner(pairs, normalize=True)
    critic = pairs / "critic"
    save_preds(learn.data.fix_dl, learn, critic / "image_gen")
    for path in (pairs / "hr" / "train").iterdir():
        (critic / "images").mkdir(exist_ok=True)
        (critic / "images" / path.name).write_bytes(path.read_bytes())
    src = ImageList.from_folder(critic).split_by_rand_pct(0.2, seed=42).label_from_folder()
    assert len(src.train) + len(src.valid) == 2 * N_TRAIN and len(src.valid) == 2
    for ds in (src.train, src.valid):
        for item, label in zip(ds.x.items, ds.y.items):
            name = ds.y.classes[label] if not isinstance(label, str) else label
            assert name == item.relative_to(critic).parts[0], (item, name)
    assert sorted(src.train.y.classes) == ["image_gen", "images"]


def test_a_loader_that_drops_items_is_refused(pairs):
    learn = make_learner(pairs, normalize=False)
    with pytest.raises(ValueError, match="use data.fix_dl"):
        save_preds(learn.data.train_dl, learn, pairs / "gen")  # drop_last: 4 of the 5 items
