"""The data pipeline (minitorch/data/): IDX parsing, MNIST, loaders, transforms, image folders and
the DataBunch.

The MNIST facts checked here (label counts, first labels, mean pixel) are the ones listed in the
data folder's README, independent of this code.  The data folder is $MINITORCH_DATA, else the
workplace's ../shared/data; without either the MNIST tests fail (they never skip).
"""
import gzip

import numpy
import pytest
from PIL import Image

import minitorch
from minitorch import backend
from minitorch.data import (
    MNIST, ArrayDataset, CategoryList, DataBunch, DataLoader, Dataset, DatasetType, FashionMNIST,
    IDXError, LabelList, Normalize, RandPadCrop, channel_stats, load_mnist, pad_crop, plot_multi,
    rand_pad, read_idx, write_idx)
from minitorch.data import download
from minitorch.data.idx import idx_bytes, parse_idx
from minitorch.data.transforms import _gather_windows, _pad, pad_crop_loop
from minitorch.vision import ImageList, mnist_databunch, mnist_image_list
from torch_compare import to_numpy

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


# ---- IDX -----------------------------------------------------------------------------------------
IDX_ROWS = [  # (what, array)
    ("uint8 images", numpy.arange(2 * 3 * 4, dtype=numpy.uint8).reshape(2, 3, 4)),
    ("uint8 labels", numpy.array([5, 0, 4, 1, 9], dtype=numpy.uint8)),
    ("int8", numpy.array([-128, 0, 127], dtype=numpy.int8)),
    ("int16", numpy.array([[-30000, 1], [2, 30000]], dtype=numpy.int16)),
    ("int32", numpy.array([-2**31, 0, 2**31 - 1], dtype=numpy.int32)),
    ("float32", numpy.array([1.5, -2.25, 1e-20], dtype=numpy.float32)),
    ("float64", numpy.array([[numpy.pi], [-1e300]], dtype=numpy.float64)),
]


@pytest.mark.parametrize("what,array", IDX_ROWS, ids=[row[0] for row in IDX_ROWS])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, what, array, suffix):
    path = write_idx(tmp_path / f"a-idx{suffix}", array)
    assert path.read_bytes().startswith(b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    numpy.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_header_is_the_published_one():
    images = numpy.zeros((60000, 28, 28), dtype=numpy.uint8)[:2]  # the header of 2 images
    raw = idx_bytes(images)
    assert raw[:4] == bytes([0, 0, 0x08, 3]) and int.from_bytes(raw[:4], "big") == 2051
    assert [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3)] == [2, 28, 28]
    labels = idx_bytes(numpy.zeros(7, dtype=numpy.uint8))
    assert int.from_bytes(labels[:4], "big") == 2049 and len(labels) == 8 + 7


def test_idx_data_is_big_endian():
    raw = idx_bytes(numpy.array([1], dtype=numpy.int32))
    assert raw[-4:] == b"\x00\x00\x00\x01"


BAD_IDX_ROWS = [  # (what, bytes, expected message)
    ("wrong magic", b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc", "not an IDX file"),
    ("unknown type", b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc",
     "unknown IDX element type 0x07"),
    ("no dimensions", b"\x00\x00\x08\x00", "0 dimensions"),
    ("short header", b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"), "truncated IDX header"),
    ("truncated data", b"\x00\x00\x08\x02" + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
     + bytes(11), r"truncated IDX data: the header promises shape \(3, 4\)"),
    ("trailing bytes", b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes(5), "3 unexpected bytes"),
    ("empty", b"", "at least 4 bytes"),
]


@pytest.mark.parametrize("what,raw,message", BAD_IDX_ROWS, ids=[row[0] for row in BAD_IDX_ROWS])
def test_bad_idx_files_are_named_in_the_error(tmp_path, what, raw, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(IDXError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_is_named_in_the_error(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz",
                     numpy.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=numpy.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz: the gzip data is truncated"):
        read_idx(path)


def test_corrupt_gzip_is_named_in_the_error(tmp_path):
    path = tmp_path / "labels.gz"
    good = gzip.compress(idx_bytes(numpy.arange(100, dtype=numpy.uint8)))
    path.write_bytes(good[:12] + bytes(b ^ 0xFF for b in good[12:-8]) + good[-8:])
    with pytest.raises(IDXError, match="labels.gz: the gzip data is corrupt"):
        read_idx(path)


def test_write_idx_leaves_no_temporary_file(tmp_path):
    write_idx(tmp_path / "x.gz", numpy.zeros(3, dtype=numpy.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]


def test_parse_idx_rejects_unstorable_dtype():
    with pytest.raises(IDXError, match="cannot store dtype int64"):
        idx_bytes(numpy.zeros(2, dtype=numpy.int64))
    assert parse_idx(idx_bytes(numpy.ones(2, dtype=numpy.uint8))).tolist() == [1, 1]


# ---- the real MNIST files --------------------------------------------------------------------------
def test_mnist_training_split_matches_the_published_facts(data_dir):
    images, labels = load_mnist("mnist", train=True, root=data_dir, download=False)
    assert images.shape == (60000, 28, 28) and images.dtype == numpy.uint8
    assert labels.shape == (60000,) and labels.dtype == numpy.int64
    assert numpy.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert labels[:10].tolist() == MNIST_FIRST_TRAIN_LABELS
    assert abs(images.mean() - 33.32) < 0.005
    assert abs(images.mean() / 255 - 0.1307) < 0.0001


def test_mnist_test_split_through_minitorch_data(monkeypatch, data_dir):
    monkeypatch.setenv("MINITORCH_DATA", str(data_dir))
    test_set = MNIST(train=False, download=False)
    assert len(test_set) == 10000
    assert numpy.bincount(test_set.targets, minlength=10).tolist() == MNIST_TEST_COUNTS
    image, label = test_set[0]
    assert image.shape == (28, 28) and isinstance(label, int) and 0 <= label <= 9
    xb, yb = test_set.get_batch(numpy.array([0, 1]))
    assert xb.shape == (2, 28, 28) and yb.tolist() == test_set.targets[:2].tolist()


def test_fashion_mnist_pixel_statistics(data_dir):
    train_set = FashionMNIST(root=data_dir, train=True, download=False)
    assert train_set.data.shape == (60000, 28, 28) and len(train_set.classes) == 10
    # Exact integer sums of the pixels and of their squares (255**2 fits in uint16): cheaper
    # than turning 47 million pixels into floats.
    pixels = train_set.data.astype(numpy.uint16)
    n = pixels.size
    mean = pixels.sum(dtype=numpy.uint64) / n / 255
    mean_of_squares = numpy.square(pixels, out=pixels).sum(dtype=numpy.uint64) / n / 255**2
    std = numpy.sqrt(mean_of_squares - mean**2)
    assert abs(mean - 0.2860) < 0.0001 and abs(std - 0.3530) < 0.0001
    assert numpy.bincount(train_set.targets).tolist() == [6000] * 10


def test_mnist_labels_out_of_range_are_rejected(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    fakes = {"train-images-idx3-ubyte.gz": numpy.zeros((3, 28, 28), dtype=numpy.uint8),
             "train-labels-idx1-ubyte.gz": numpy.array([1, 10, 2], dtype=numpy.uint8)}
    for filename, array in fakes.items():
        path = write_idx(folder / filename, array)
        # These fake files stand in for the real ones: their checksums replace the known ones.
        monkeypatch.setitem(download.KNOWN_CHECKSUMS, f"mnist/{filename}",
                            download.file_checksums(path))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: labels must be 0-9, found 10"):
        load_mnist("mnist", train=True, root=tmp_path, download=False)


def test_mnist_image_and_label_counts_must_agree(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    folder.mkdir()
    fakes = {"t10k-images-idx3-ubyte.gz": numpy.zeros((3, 28, 28), dtype=numpy.uint8),
             "t10k-labels-idx1-ubyte.gz": numpy.array([1, 2], dtype=numpy.uint8)}
    for filename, array in fakes.items():
        path = write_idx(folder / filename, array)
        monkeypatch.setitem(download.KNOWN_CHECKSUMS, f"mnist/{filename}",
                            download.file_checksums(path))
    with pytest.raises(ValueError, match="holds 3 images but .* holds 2 labels"):
        load_mnist("mnist", train=False, root=tmp_path, download=False)


# ---- Dataset and DataLoader ----------------------------------------------------------------------
def _numbers(n=10):
    return ArrayDataset(numpy.arange(n, dtype=numpy.float32)[:, None] * numpy.ones(3, numpy.float32),
                        numpy.arange(n, dtype=numpy.int64))


class _OneByOne(Dataset):
    """A dataset without get_batch: the loader must fetch and stack its samples itself."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return numpy.full(3, index, dtype=numpy.float32), index


def _epoch(loader):
    return [tuple(backend.to_numpy(t.array) for t in batch) for batch in loader]


@pytest.mark.parametrize("n,bs,drop_last,sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]), (2, 5, True, [])])
def test_loader_batch_sizes_and_len(n, bs, drop_last, sizes):
    loader = DataLoader(_numbers(n), batch_size=bs, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(x) for x, _ in _epoch(loader)] == sizes


def test_loader_in_order_yields_tensors_on_the_device():
    batches = list(DataLoader(_numbers(), batch_size=4))
    xb, yb = batches[0]
    assert isinstance(xb, minitorch.Tensor) and xb.dtype == minitorch.float32 \
        and xb.device == backend.default_device()
    assert yb.dtype == minitorch.int64 and yb.array.tolist() == [0, 1, 2, 3]
    assert xb.array[:, 0].tolist() == [0, 1, 2, 3]


def test_loader_shuffle_covers_every_item_once_and_changes_each_epoch():
    loader = DataLoader(_numbers(50), batch_size=8, shuffle=True, seed=3)
    first = numpy.concatenate([y for _, y in _epoch(loader)])
    second = numpy.concatenate([y for _, y in _epoch(loader)])
    assert sorted(first.tolist()) == list(range(50)) == sorted(second.tolist())
    assert first.tolist() != list(range(50)) and first.tolist() != second.tolist()


def test_loader_seed_makes_the_epochs_reproducible():
    def two_epochs(seed):
        loader = DataLoader(_numbers(30), batch_size=7, shuffle=True, drop_last=True, seed=seed)
        return [y.tolist() for _ in range(2) for _, y in _epoch(loader)]
    assert two_epochs(11) == two_epochs(11)
    assert two_epochs(11) != two_epochs(12)


def test_loader_without_seed_follows_minitorch_manual_seed():
    loader = DataLoader(_numbers(30), batch_size=30, shuffle=True)
    minitorch.manual_seed(5)
    first = _epoch(loader)[0][1].tolist()
    minitorch.manual_seed(5)
    assert _epoch(loader)[0][1].tolist() == first


def test_loader_stacks_samples_of_a_dataset_without_get_batch():
    fast = _epoch(DataLoader(_numbers(7), batch_size=3))
    slow = _epoch(DataLoader(_OneByOne(7), batch_size=3))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        numpy.testing.assert_array_equal(fx, sx)
        numpy.testing.assert_array_equal(fy, sy)


def test_loader_batch_tfms_apply_to_inputs_only():
    loader = DataLoader(_numbers(4), batch_size=4, batch_tfms=[lambda x: x * 10])
    (x, y), = _epoch(loader)
    assert x[:, 0].tolist() == [0, 10, 20, 30] and y.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_loader_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(_numbers(), batch_size=bad)


def test_array_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same length.*\[3, 4\]"):
        ArrayDataset(numpy.zeros(3), numpy.zeros(4))


@pytest.mark.cuda
@pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU")
def test_loader_puts_batches_on_the_gpu():
    loader = DataLoader(_numbers(6), batch_size=4, device="cuda")
    xb, yb = next(iter(loader))
    assert xb.device == "cuda" and yb.device == "cuda"
    assert backend.to_numpy(yb.array).tolist() == [0, 1, 2, 3]


# ---- transforms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["zeros", "reflection", "border"])
def test_vectorised_pad_crop_matches_the_loop(mode):
    rng = numpy.random.default_rng(0)
    images = rng.integers(0, 256, (16, 2, 9, 8), dtype=numpy.uint8)
    rows, cols = rng.integers(0, 7, 16), rng.integers(0, 5, 16)
    fast = pad_crop(images, 3, (9, 10), rows, cols, mode)
    assert fast.shape == (16, 2, 9, 10) and fast.dtype == numpy.uint8
    numpy.testing.assert_array_equal(fast, pad_crop_loop(images, 3, (9, 10), rows, cols, mode))
    # The GPU form (one gather; CuPy has no sliding_window_view), run here with NumPy:
    gathered = _gather_windows(_pad(images, 3, mode), 9, 10, rows, cols)
    numpy.testing.assert_array_equal(gathered, fast)


def test_pad_crop_at_the_centre_is_the_identity_and_at_a_corner_a_shift():
    images = numpy.arange(2 * 1 * 5 * 5, dtype=numpy.uint8).reshape(2, 1, 5, 5) + 1
    centre = pad_crop(images, 2, 5, numpy.array([2, 2]), numpy.array([2, 2]))
    numpy.testing.assert_array_equal(centre, images)
    corner = pad_crop(images, 2, 5, numpy.array([0, 4]), numpy.array([0, 4]))
    numpy.testing.assert_array_equal(corner[0, 0, 2:, 2:], images[0, 0, :3, :3])
    assert (corner[0, 0, :2] == 0).all() and (corner[0, 0, :, :2] == 0).all()
    numpy.testing.assert_array_equal(corner[1, 0, :3, :3], images[1, 0, 2:, 2:])


def test_rand_pad_draws_every_offset_per_image():
    tfm, = rand_pad(padding=3, size=28, mode="zeros")
    assert isinstance(tfm, RandPadCrop)
    # One bright pixel at the centre: where it lands tells the offset each image got.
    images = numpy.zeros((2000, 1, 28, 28), dtype=numpy.uint8)
    images[:, 0, 14, 14] = 255
    out = tfm(images, numpy.random.default_rng(0))
    assert out.shape == (2000, 1, 28, 28)
    assert (out.reshape(2000, -1).sum(axis=1) == 255).all()  # the pixel is never cropped away
    rows, cols = numpy.nonzero(out[:, 0].max(axis=2))[1], numpy.nonzero(out[:, 0].max(axis=1))[1]
    assert set((rows - 14).tolist()) == set(range(-3, 4)) == set((cols - 14).tolist())
    assert numpy.bincount(rows - 11).min() > 200  # roughly uniform over the 7 positions


def test_normalize_and_denorm_are_inverse_per_channel():
    rng = numpy.random.default_rng(1)
    x = rng.random((8, 3, 5, 5), dtype=numpy.float32)
    norm = Normalize([0.1, 0.5, 0.9], [0.2, 0.3, 0.4])
    y = norm(x)
    numpy.testing.assert_allclose(y[:, 1], (x[:, 1] - 0.5) / 0.3, rtol=1e-6)
    numpy.testing.assert_allclose(norm.denorm(y), x, atol=1e-6)
    assert y.dtype == numpy.float32
    with pytest.raises(ValueError, match=r"expected a batch \(N, 3, H, W\), got shape \(8, 1, 5, 5\)"):
        norm(x[:, :1])


def test_channel_stats_is_the_unbiased_per_channel_mean_and_std():
    x = numpy.random.default_rng(2).random((4, 2, 3, 3), dtype=numpy.float32)
    mean, std = channel_stats(x)
    for c in range(2):
        values = x[:, c].ravel().astype(numpy.float64)
        assert mean[c] == pytest.approx(values.mean(), rel=1e-6)
        assert std[c] == pytest.approx(values.std(ddof=1), rel=1e-6)


# ---- the data block API on synthetic images ----------------------------------------------------
def _synthetic_image_list(n_per_class=20, classes=("cat", "dog", "emu"), size=6):
    """Items ``train/<class>/<i>.png`` and ``valid/<class>/<i>.png``; pixel values encode the class."""
    pixels, items = [], []
    for split in ("train", "valid"):
        for label, name in enumerate(classes):
            for i in range(n_per_class):
                pixels.append(numpy.full((size, size), 40 * label + i, dtype=numpy.uint8))
                items.append(f"{split}/{name}/{i}.png")
    return ImageList.from_arrays(numpy.stack(pixels), items)


def test_split_by_folder_and_label_from_folder():
    labelled = _synthetic_image_list().split_by_folder(train="train", valid="valid").label_from_folder()
    assert labelled.classes == ["cat", "dog", "emu"]
    assert len(labelled.train) == 60 and len(labelled.valid) == 60
    x, y = labelled.train[25]  # fastai's items: an Image and a Category
    assert x.shape == (1, 6, 6) and x.data.dtype == minitorch.float32
    assert int(y) == 1 and str(y) == "dog"
    assert x.data.numpy()[0, 0, 0] == pytest.approx((40 + 5) / 255)


def test_split_by_folder_names_the_folders_it_found():
    with pytest.raises(ValueError, match=r"no items in a folder named 'training'.*\['train', 'valid'\]"):
        _synthetic_image_list().split_by_folder(train="training", valid="valid")


def test_split_by_rand_pct_is_a_seeded_partition():
    il = _synthetic_image_list()
    split = il.split_by_rand_pct(0.25, seed=4)
    assert len(split.valid) == 30 and len(split.train) == 90
    assert sorted(split.train.items + split.valid.items) == sorted(il.items)
    assert split.valid.items == il.split_by_rand_pct(0.25, seed=4).valid.items


def test_labels_missing_from_training_and_out_of_range_are_errors():
    il = ImageList.from_arrays(numpy.zeros((3, 4, 4), numpy.uint8),
                               ["train/a/0.png", "train/a/1.png", "valid/b/0.png"])
    with pytest.raises(ValueError, match=r"validation set has labels \['b'\].*classes are \['a'\]"):
        il.split_by_folder().label_from_folder()
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\), got values 0..2"):
        LabelList(il, CategoryList(numpy.array([0, 1, 2]), ["a", "b"]))


def test_image_list_rejects_non_pixels_and_wrong_channels():
    with pytest.raises(TypeError, match=r"uint8 \(0-255\) or floats \(0-1\), got int64"):
        ImageList.from_arrays(numpy.zeros((2, 1, 4, 4), numpy.int64))
    with pytest.raises(ValueError, match=r"C = 1 \(grey\) or 3 \(colour\), got shape \(2, 2, 4, 4\)"):
        ImageList.from_arrays(numpy.zeros((2, 2, 4, 4), numpy.uint8))
    floats = ImageList.from_arrays(numpy.full((2, 3, 4, 4), 0.25, numpy.float32))
    assert floats.get(1).dtype == numpy.float32 and (floats.get(1) == 0.25).all()


def _synthetic_bunch(bs=16, **kwargs):
    return (_synthetic_image_list().split_by_folder().label_from_folder()
            .transform(([*rand_pad(padding=1, size=6, mode="zeros")], []))
            .databunch(bs=bs, **kwargs))


def test_transforms_apply_to_the_training_set_only():
    data = _synthetic_bunch()
    raw_valid = data.valid_ds.x.pixels / 255
    valid_x = numpy.concatenate([backend.to_numpy(xb.array) for xb, _ in data.valid_dl])
    numpy.testing.assert_allclose(valid_x, raw_valid, rtol=1e-6)
    fix_x = numpy.concatenate([backend.to_numpy(xb.array) for xb, _ in data.fix_dl])
    numpy.testing.assert_allclose(fix_x, data.train_ds.x.pixels / 255, rtol=1e-6)
    # Constant images padded with zeros: a shifted crop shows a zero border; the valid ones never do.
    train_x = numpy.concatenate([backend.to_numpy(xb.array) for xb, _ in data.train_dl])
    has_zero = (train_x == 0).reshape(len(train_x), -1).any(axis=1)
    originally_zero = (data.train_ds.x.pixels == 0).reshape(60, -1).any(axis=1).sum()
    assert has_zero.sum() > 2 * originally_zero


def test_databunch_loaders_follow_fastai():
    data = _synthetic_bunch(bs=16)
    assert data.c == 3 and data.classes == ["cat", "dog", "emu"] and data.batch_size == 16
    assert len(data.train_dl) == 60 // 16 and data.train_dl.shuffle and data.train_dl.drop_last
    assert len(data.valid_dl) == 4 and not data.valid_dl.shuffle
    ys = numpy.concatenate([backend.to_numpy(yb.array) for _, yb in data.valid_dl])
    assert ys.tolist() == [0] * 20 + [1] * 20 + [2] * 20
    assert data.test_dl is None and data.device == backend.default_device()
    with pytest.raises(ValueError, match="has no Test set"):
        data.dl(DatasetType.Test)


def test_transform_takes_a_pair_of_lists_of_callables():
    labelled = _synthetic_image_list().split_by_folder().label_from_folder()
    with pytest.raises(ValueError, match=r"expected tfms = \(train_tfms, valid_tfms\)"):
        labelled.transform(rand_pad(1, 6))
    with pytest.raises(TypeError, match="every transform must be callable, got 3"):
        labelled.transform(([3], []))


def test_items_of_the_training_set_are_augmented_too():
    labelled = (_synthetic_image_list().split_by_folder().label_from_folder()
                .transform(([*rand_pad(padding=2, size=6, mode="zeros")], [])))
    minitorch.manual_seed(1)
    shifted = sum(bool((labelled.train[i][0].data.numpy() == 0).any()) for i in range(1, 20))
    assert shifted > 10  # constant non-zero images: any zero is padding brought in by a shift
    assert not any((labelled.valid[i][0].data.numpy() == 0).any() for i in range(1, 20))


def test_batch_size_can_be_changed_on_every_loader():
    data = _synthetic_bunch(bs=16)
    data.batch_size = 8
    assert data.train_dl.batch_size == data.valid_dl.batch_size == 8 and len(data.train_dl) == 7


def test_databunch_rejects_a_batch_size_larger_than_the_training_set():
    with pytest.raises(ValueError, match="60 items, fewer than the batch size 64"):
        _synthetic_bunch(bs=64)


def test_normalize_measures_a_random_training_batch():
    minitorch.manual_seed(7)
    expected_batch = _synthetic_bunch(seed=9)
    x = expected_batch.train_dl.host_batch(expected_batch.train_dl.batch_indices()[0])[0]
    expected_mean, expected_std = channel_stats(x)
    data = _synthetic_bunch(seed=9).normalize()
    numpy.testing.assert_allclose(data.stats[0], expected_mean, rtol=1e-6)
    numpy.testing.assert_allclose(data.stats[1], expected_std, rtol=1e-6)
    xb, _ = next(iter(data.valid_dl))
    raw = data.valid_ds.x.pixels[:16] / 255
    numpy.testing.assert_allclose(to_numpy(xb), (raw - expected_mean[0]) / expected_std[0], rtol=1e-5,
                                  atol=1e-6)
    with pytest.raises(RuntimeError, match="normalize was already called"):
        data.normalize()


def test_normalize_with_given_stats_and_one_batch_denorm():
    data = _synthetic_bunch().normalize(([0.25], [0.5]))
    xb, yb = data.one_batch(DatasetType.Valid, denorm=False)
    numpy.testing.assert_allclose(to_numpy(xb), (data.valid_ds.x.pixels[:16] / 255 - 0.25) / 0.5,
                                  rtol=1e-5, atol=1e-6)
    shown, _ = data.one_batch(DatasetType.Valid)
    numpy.testing.assert_allclose(to_numpy(shown), data.valid_ds.x.pixels[:16] / 255, atol=1e-6)
    assert yb.dtype == minitorch.int64 and shown.device == "cpu"
    with pytest.raises(ValueError, match="the images have 1 channels but the stats have 3"):
        _synthetic_bunch().normalize(([0.1, 0.2, 0.3], [1, 1, 1]))


def test_test_set_is_unlabelled_and_gets_the_validation_transforms():
    il = _synthetic_image_list()
    test_items = ImageList.from_arrays(il.pixels[:5, 0], [f"test/{i}.png" for i in range(5)])
    data = (il.split_by_folder().label_from_folder()
            .transform(([*rand_pad(1, 6, mode="zeros")], [])).add_test(test_items)
            .databunch(bs=16).normalize(([0.0], [1.0])))
    assert not data.test_ds.has_labels and data.test_ds.tfms == []
    (xb, yb), = list(data.test_dl)
    numpy.testing.assert_allclose(to_numpy(xb), il.pixels[:5] / 255, rtol=1e-6)
    assert yb.dtype == minitorch.int64 and yb.array.tolist() == [0] * 5  # placeholders, not labels


# ---- image folders ---------------------------------------------------------------------------------
def _write_png_folder(root):
    """train/{a,b} and valid/{a,b} PNGs: grey, colour and palette images of 7x5 pixels."""
    rng = numpy.random.default_rng(3)
    written = {}
    for split in ("train", "valid"):
        for label in ("a", "b"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                if i == 0:
                    image = Image.fromarray(rng.integers(0, 256, (7, 5), dtype=numpy.uint8), "L")
                elif i == 1:
                    image = Image.fromarray(rng.integers(0, 256, (7, 5, 3), dtype=numpy.uint8), "RGB")
                else:
                    image = Image.fromarray(rng.integers(0, 256, (7, 5, 3), dtype=numpy.uint8),
                                            "RGB").convert("P")
                path = folder / (f"{i}.png" if i < 2 else f"{i}.PNG")
                image.save(path)
                written[f"{split}/{label}/{path.name}"] = image
    (root / "train" / "a" / "notes.txt").write_text("not an image")
    return written


def test_image_folder_loading_in_grey_and_colour(tmp_path):
    written = _write_png_folder(tmp_path)
    grey = ImageList.from_folder(tmp_path, convert_mode="L")
    names = [item.relative_to(tmp_path).as_posix() for item in grey.items]  # full paths, as fastai's
    assert grey.pixels.shape == (12, 1, 7, 5) and sorted(names) == sorted(written)
    for n, name in enumerate(names):
        numpy.testing.assert_array_equal(grey.pixels[n, 0], numpy.asarray(written[name].convert("L")))
    colour = ImageList.from_folder(tmp_path)  # fastai's default: RGB
    assert colour.pixels.shape == (12, 3, 7, 5)
    n = colour.items.index(tmp_path / "train/a/0.png")  # a grey file: its channel three times
    assert (colour.pixels[n] == colour.pixels[n, :1]).all()
    data = grey.split_by_folder().label_from_folder().databunch(bs=2)
    assert data.classes == ["a", "b"] and data.train_ds.x.convert_mode == "L"
    xb, yb = next(iter(data.valid_dl))
    assert xb.shape == (2, 1, 7, 5) and xb.dtype == minitorch.float32


def test_image_folder_errors_name_the_file(tmp_path):
    _write_png_folder(tmp_path)
    Image.new("L", (9, 9)).save(tmp_path / "train" / "b" / "big.png")
    with pytest.raises(ValueError, match=r"big.png: image of size 9x9, but .* is 7x5.*size="):
        ImageList.from_folder(tmp_path, convert_mode="L").pixels  # read into memory
    resized = ImageList.from_folder(tmp_path, convert_mode="L", size=(4, 3))
    assert resized.pixels.shape == (13, 1, 4, 3)
    (tmp_path / "valid" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png: not an image pillow can read"):
        ImageList.from_folder(tmp_path, convert_mode="L", size=4).pixels
    with pytest.raises(ValueError, match=r"unsupported image mode 'CMYK'.*\['L', 'RGB'\]"):
        ImageList.from_folder(tmp_path, convert_mode="CMYK")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageList.from_folder(tmp_path / "nowhere")


def test_add_test_folder_reads_unlabelled_images(tmp_path):
    _write_png_folder(tmp_path)
    (tmp_path / "test").mkdir()
    Image.new("L", (5, 7), color=200).save(tmp_path / "test" / "x.png")
    data = (ImageList.from_folder(tmp_path, convert_mode="L").split_by_folder()
            .label_from_folder().add_test_folder("test").databunch(bs=2))
    (xb, yb), = list(data.test_dl)
    assert xb.shape == (1, 1, 7, 5) and float(xb.array.max()) == pytest.approx(200 / 255)


# ---- figures ---------------------------------------------------------------------------------------
def test_show_batch_writes_a_png(tmp_path):
    data = _synthetic_bunch().normalize()
    figure = data.show_batch(rows=3, figsize=(5, 5), path=tmp_path / "figs" / "batch.png")
    with Image.open(tmp_path / "figs" / "batch.png") as image:
        assert image.format == "PNG" and image.size == (500, 500)
    assert len(figure.axes) == 9
    assert {ax.get_title() for ax in figure.axes} <= {"cat", "dog", "emu"}
    assert not list((tmp_path / "figs").glob("*.part"))


def test_plot_multi_calls_the_function_for_every_cell(tmp_path):
    calls = []

    def draw(i, j, ax):
        calls.append((i, j))
        ax.plot([0, 1], [i, j])
    figure = plot_multi(draw, 2, 3, figsize=(6, 4), path=tmp_path / "multi.png")
    assert calls == [(i, j) for i in range(2) for j in range(3)] and len(figure.axes) == 6
    assert (tmp_path / "multi.png").read_bytes().startswith(b"\x89PNG")


# ---- the lesson's DataBunch --------------------------------------------------------------------------
def test_mnist_image_list_has_the_lesson_folders(data_dir):
    il = mnist_image_list(root=data_dir, limit=20, valid_limit=5)
    assert len(il) == 25 and il.items[0] == "training/5/0.png" and il.items[20].startswith("testing/")
    labelled = il.split_by_folder(train="training", valid="testing").label_from_folder()
    assert labelled.train.y.items[:10].tolist() == MNIST_FIRST_TRAIN_LABELS
    assert labelled.classes == [str(d) for d in range(10)]


def test_mnist_databunch_quick_slice(data_dir):
    data = mnist_databunch(bs=64, limit=640, valid_limit=200, root=data_dir, seed=0)
    assert len(data.train_ds) == 640 and len(data.valid_ds) == 200
    assert len(data.train_dl) == 10 and len(data.valid_dl) == 4 and data.c == 10
    xb, yb = next(iter(data.train_dl))
    assert xb.shape == (64, 1, 28, 28) and xb.dtype == minitorch.float32
    assert yb.shape == (64,) and yb.dtype == minitorch.int64
    assert isinstance(data, DataBunch) and isinstance(data.train_ds.tfms[0], RandPadCrop)
    assert data.valid_ds.tfms == []


def test_mnist_databunch_full_size_and_normalisation(data_dir):
    data = mnist_databunch(root=data_dir)
    assert len(data.train_dl) == 60000 // 128 and len(data.valid_dl) == 79
    assert data.batch_size == 128 and data.classes == [str(d) for d in range(10)]
    # Stats from one random (augmented) training batch: close to MNIST's 0.1307 / 0.3081.
    assert abs(float(data.stats[0][0]) - 0.1307) < 0.02 and abs(float(data.stats[1][0]) - 0.3081) < 0.03
    xs = numpy.concatenate([backend.to_numpy(xb.array) for xb, _ in data.valid_dl])
    assert xs.shape == (10000, 1, 28, 28)
    assert abs(xs.mean()) < 0.05 and abs(xs.std() - 1) < 0.05
