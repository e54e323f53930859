"""The super-resolution lessons' shared pieces: the crappified folders (the files, the boxes of
the fixed validation crops), a generator saved and rebuilt (the same outputs; clear errors for a
file that is not one), the measures on the validation crops (an untrained residual U-Net is the
bicubic input, so it measures as bicubic; a perfect prediction measures as perfect), and
``python -m minitorch.vision.evaluate_superres`` on photos it has never seen."""
import json
import math

import numpy as np
import pytest
from PIL import Image

import minitorch
from minitorch.vision import MergeLayer, NormType, PixelShuffle_ICNR, imagenet_stats
from minitorch.vision.crappify import validation_pairs
from minitorch.vision.evaluate_superres import centred, main
from minitorch.vision.learner import create_body
from minitorch.vision.models import DynamicUnet, small16
from minitorch.vision.models.unet import ColourGatedMerge
from minitorch.vision.superres import (
    SuperresEval, crappify_to_folders, load_generator, open_photo, pil_to_pixels, predictor,
    results_tables, save_generator, superres_data)


def unet(norm_type=NormType.Batch, blur=False, size=32, blur_last_shuffle=False, keep_grey=None):
    minitorch.manual_seed(0)
    return DynamicUnet(create_body(small16), 3, (size, size), norm_type=norm_type, blur=blur,
                       residual=True, blur_last_shuffle=blur_last_shuffle, keep_grey=keep_grey)


def test_crappify_to_folders_writes_the_pairs_and_the_boxes(tmp_path):
    boxes = crappify_to_folders(tmp_path, train_photos=["coins.png", "camera.png"],
                                valid_photos=["chelsea.png"], tiles_per_photo=2,
                                crops_per_tile={32: 3, 48: 1}, scales=(1.0, 0.5), valid_crops=2)
    for size, per_tile in [(32, 3), (48, 1)]:
        for side in ("lr", "hr"):
            train = sorted(p.name for p in (tmp_path / f"s{size}" / side / "train").iterdir())
            # 2 photos × 2 scales × 2 tiles × per_tile crops
            assert len(train) == 2 * 2 * 2 * per_tile
            assert train[0] == "camera_0.5_0_0.png"
            for name in train[:2]:
                image = Image.open(tmp_path / f"s{size}" / side / "train" / name)
                assert image.size == (size, size)
        valid = sorted(p.name for p in (tmp_path / f"s{size}" / "lr" / "valid").iterdir())
        assert valid == ["chelsea_0.png", "chelsea_1.png"]
    pairs = validation_pairs(open_photo("chelsea.png"), 0, 128, 2)
    assert boxes == {f"valid/chelsea_{c}.png": list(box) for c, (_, _, box) in enumerate(pairs)}
    assert json.loads((tmp_path / "boxes.json").read_text()) == boxes
    lr = Image.open(tmp_path / "s32" / "lr" / "valid" / "chelsea_1.png")
    assert lr.tobytes() == pairs[1][0].tobytes()  # the crop at full size, at every size
    data = superres_data(tmp_path, 32, bs=4)
    xb, yb = data.one_batch()
    assert tuple(xb.shape) == tuple(yb.shape) == (4, 3, 32, 32)
    assert len(data.valid_ds) == 2


@pytest.mark.parametrize("norm_type, blur, blur_last_shuffle, keep_grey", [
    (NormType.Batch, False, False, None), (NormType.Weight, True, False, None),
    (NormType.Weight, True, True, None), (NormType.Weight, True, True, imagenet_stats)])
def test_a_saved_generator_is_rebuilt_with_the_same_outputs(tmp_path, norm_type, blur,
                                                            blur_last_shuffle, keep_grey):
    model = unet(norm_type, blur, blur_last_shuffle=blur_last_shuffle, keep_grey=keep_grey)
    with minitorch.no_grad():  # give the last conv something to do (it starts at zero)
        for p in model.parameters():
            p.add_(0.01)
    path = save_generator(model, tmp_path / "models" / "g.npz", "small16")
    again = load_generator(path)
    assert again.options == model.options
    assert again.options["norm_type"] == norm_type.name and again.options["blur"] == blur
    shuffles = [m for m in again.layers if isinstance(m, PixelShuffle_ICNR)]
    assert [m.do_blur for m in shuffles] == [blur_last_shuffle]  # the one up to the input's size
    assert isinstance(again.layers[-1], MergeLayer if keep_grey is None else ColourGatedMerge)
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 48, 40)).astype(np.float32)
    np.testing.assert_array_equal(predictor(again)(x), predictor(model)(x))
    assert not again.training


def test_what_is_not_a_generator_is_refused(tmp_path):
    minitorch.save({"model": {}}, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="holds no generator"):
        load_generator(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="unknown encoder 'resnet9'"):
        save_generator(unet(), tmp_path / "g.npz", "resnet9")
    state = {"model": unet().state_dict(), "generator": {"encoder": "resnet9"}}
    minitorch.save(state, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="built on the encoder 'resnet9'"):
        load_generator(tmp_path / "other.npz")


@pytest.fixture(scope="module")
def evaluation():
    return SuperresEval.from_photos([open_photo("chelsea.png")], tile=64, count=2)


def test_an_untrained_residual_unet_measures_as_bicubic(evaluation):
    bicubic = evaluation.measure()
    untrained = evaluation.measure(predictor(unet()))  # output = input + a zero correction
    assert set(untrained) == set(bicubic)
    for key in bicubic:
        assert untrained[key] == pytest.approx(bicubic[key], rel=1e-4, abs=1e-4), key
    assert bicubic["grey"] == pytest.approx(0, abs=0.05)  # JPEG keeps grey grey
    assert bicubic["gap"] < -3  # the number is there


def test_the_measures_are_those_of_quality_py_on_each_crop(evaluation):
    from minitorch.vision.quality import psnr_outside_box, ssim_in_box
    result = evaluation.measure()
    want = np.mean([psnr_outside_box(x, t, b) for x, t, b in
                    zip(evaluation.inputs, evaluation.targets, evaluation.boxes)])
    assert result["psnr_out"] == pytest.approx(want, rel=1e-12)
    want = np.mean([ssim_in_box(x, t, b) for x, t, b in
                    zip(evaluation.inputs, evaluation.targets, evaluation.boxes)])
    assert result["ssim_box"] == pytest.approx(want, rel=1e-12)
    # a perfect model: the target of each crop (its grey copy for the grey crops)
    answers = {x.tobytes(): t for x, t in zip(evaluation.inputs, evaluation.targets)}
    answers.update({g.tobytes(): t.mean(axis=0, keepdims=True).repeat(3, axis=0)
                    for g, t in zip(evaluation.grey_inputs, evaluation.targets)})
    perfect = evaluation.measure(lambda x: np.stack([answers[image.tobytes()] for image in x]))
    assert perfect["psnr_out"] == math.inf and perfect["ssim"] == pytest.approx(1.0)
    assert perfect["sharpness"] == 1.0 and perfect["checkerboard"] == 1.0
    assert perfect["grey"] == 0.0 and perfect["gap"] != perfect["gap"]  # inf − inf: NaN


def test_the_tables_lead_with_the_measures_outside_the_box(evaluation):
    results = {"bicubic": evaluation.measure(), "model": evaluation.measure()}
    tables = results_tables(results)
    first = tables.splitlines()[0]
    assert first.startswith("| model | PSNR outside the box | vs bicubic | SSIM outside the box |")
    lines = tables.splitlines()
    assert lines[2].startswith("| bicubic | ") and lines[3].startswith("| model | ")
    assert lines[3].split(" | ")[2] == "+0.00"  # the same predictions: no gain over bicubic
    assert "checkerboard" in tables and "colour added to grey" in tables


def test_evaluate_superres_on_photos_it_has_never_seen(tmp_path, capsys):
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (70, 90, 3), np.uint8))
    photo.save(tmp_path / "mine.jpg")
    grey = open_photo("coins.png").crop((0, 0, 100, 80))
    grey.save(tmp_path / "grey.png")
    model = save_generator(unet(), tmp_path / "untrained.npz", "small16")
    results = main([str(model), str(tmp_path / "mine.jpg"), str(tmp_path / "grey.png"),
                    "--out", str(tmp_path / "out"), "--no-features"])
    out = capsys.readouterr().out
    assert "2 photos (means over them), crappified with seeds 0…1" in out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows[:3] == ["model", "bicubic", "untrained"]
    assert results["untrained"]["psnr_out"] == pytest.approx(results["bicubic"]["psnr_out"],
                                                             abs=1e-3)
    panel = Image.open(tmp_path / "out" / "mine_restored.png")
    assert panel.size == (3 * 80, 64)  # 90 × 70 trimmed to 80 × 64; input, model, original
    assert centred(photo, 48).size == (48, 48)
    with pytest.raises(SystemExit):
        main([str(model)])


def test_predictor_works_through_the_pixels():
    x = np.random.default_rng(2).uniform(0, 1, (3, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(predictor(unet(), bs=2)(x), x, atol=1e-6)
    assert pil_to_pixels(Image.fromarray(np.full((2, 3, 3), 255, np.uint8))).max() == 1.0
