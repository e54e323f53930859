"""The ResNet-on-MNIST lesson runs end to end on the real MNIST files (``--quick``: 2,000
training and 500 validation images, one epoch per model), prints its final table and writes its
figures.  The data folder comes from the ``data_dir`` fixture (``tests/conftest.py``)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import minitorch

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "lesson7_resnet_mnist.py"
MODELS = [("A: basic CNN", "12,126", "0.9886"), ("B: conv_layer refactor", "12,044", "0.9916"),
          ("C: ResNet-ish", "41,132", "0.9952"), ("D: DenseNet variant", "52,940", "—")]
FIGURES = ["batch", "a_lr_find", "a_losses", "a_lr_moms", "b_losses", "c_lr_find", "c_losses",
           "c_lr_moms", "c_results", "d_lr_find", "d_losses"]


@pytest.mark.slow
def test_quick_resnet_mnist_lesson_prints_the_table_and_writes_the_figures(tmp_path, data_dir):
    result = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Total params: 12,126" in out  # model A's summary
    assert "epoch     train_loss  valid_loss  accuracy  time" in out
    table = out[out.index("| model | parameters | final accuracy | the lesson's accuracy |"):]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [(name, params, lesson) for name, params, _, lesson, _ in rows] == MODELS
    for row in rows:
        assert 0.0 <= float(row[2]) <= 1.0 and float(row[4]) >= 0
    assert (tmp_path / "results.md").read_text().count("\n| ") == len(MODELS) + 1
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name


WGAN_LESSON = LESSON.parent / "lesson7_wgan.py"
WGAN_FIGURES = ["real_batch", "losses", "quality", "samples_8x8", "class_histogram",
                "most_confident", "least_confident", "gan_samples/epoch_0", "side_by_side",
                "most_confident_gp", "least_confident_gp", "wgan_gp/samples_8x8",
                "wgan_gp/gan_samples/epoch_0"]


@pytest.mark.slow
def test_quick_wgan_lesson_prints_the_table_and_writes_the_figures(tmp_path, data_dir):
    result = subprocess.run([sys.executable, str(WGAN_LESSON), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "epoch     train_loss  gen_loss  disc_loss  time" in out
    assert "generator: 61,680 parameters" in out and "critic: 10,984 parameters" in out
    assert "WGAN-GP critic (no batchnorm): 10,936 parameters" in out
    table = out[out.index("| measure | WGAN (clipped) | WGAN-GP | target |"):]
    values = {row[0]: row[1:3] for row in
              ([cell.strip() for cell in line.strip("|").split("|")]
               for line in table.splitlines() if line.startswith("| ") and "---" not in line)}
    for run in (0, 1):  # the clipped WGAN, WGAN-GP
        confident = float(values["samples classified with confidence ≥ 0.9"][run].rstrip("%"))
        assert 0 <= confident <= 100
        histogram = [float(v) for v in values["class histogram of all samples, % (0 … 9)"][run]
                     .split()]
        # ten shares, each rounded to 0.1: their sum is within 10 × 0.05 of 100
        assert len(histogram) == 10 and sum(histogram) == pytest.approx(100, abs=0.5)
        confident_histogram = [float(v) for v in values[
            "class histogram of the confident samples, % (0 … 9)"][run].split()]
        assert len(confident_histogram) == 10 and (
            sum(confident_histogram) == pytest.approx(100, abs=0.5) or confident == 0)
    floor = float(values["Fréchet distance: 128 training images vs test set (floor)"][0])
    ceiling = float(values["Fréchet distance: untrained generator vs test set (ceiling)"][0])
    assert 0 <= floor < ceiling
    assert (tmp_path / "results.md").read_text().count("\n| ") == 15  # header + 14 rows
    assert (tmp_path / "models" / "wgan.npz").stat().st_size > 0
    assert (tmp_path / "wgan_gp" / "models" / "wgan_gp.npz").stat().st_size > 0
    for name in WGAN_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name


def markdown_tables(text, header, count=3):
    """The rows (lists of cells, header included) of the markdown table starting at ``header``
    and of the tables right after it (up to ``count`` in all)."""
    lines = text[text.index(header):].splitlines()
    tables, rows = [], []
    for line in lines:
        if line.startswith("|"):
            if "---" not in line:
                rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows and not line.strip():
            tables.append(rows)
            rows = []
            if len(tables) == count:
                break
        elif rows:
            break
    if rows:
        tables.append(rows)
    return tables


MAIN_HEADER = ("| model | PSNR outside the box | vs bicubic | SSIM outside the box | PSNR in the "
               "box | SSIM in the box | PSNR whole crop | SSIM whole crop | box − outside dB |")


def check_superres_tables(out, names):
    """The super-resolution lessons' three tables: quality (outside the box first: PSNR, its gain
    over bicubic, SSIM; then in the box, the whole crop, the gap), artefacts (sharpness,
    checkerboard, colour added to grey, feature distance) and the feature distance layer by
    layer (four positive distances whose mean is the artefact table's), for ``names``."""
    main, artefacts, layers = markdown_tables(out, MAIN_HEADER)
    assert [row[0] for row in main[1:]] == names
    assert [row[0] for row in artefacts[1:]] == names and [row[0] for row in layers[1:]] == names
    bicubic_out = float(main[1][1])
    for row in main[1:]:
        psnr_out, gain, ssim_out, psnr_box, ssim_box, psnr, ssim, gap = map(float, row[1:])
        assert 15 < psnr_out < 40 and 5 < psnr_box < 40 and 10 < psnr < 40
        assert gain == pytest.approx(psnr_out - bicubic_out, abs=0.011)
        assert gap == pytest.approx(psnr_box - psnr_out, abs=0.011)
        assert psnr_box < psnr < psnr_out  # the whole crop mixes the two
        assert all(0 < v <= 1 for v in (ssim_out, ssim_box, ssim))
    assert main[1][2] == "+0.00"
    for row in artefacts[1:]:
        sharpness, checkerboard, grey, distance = map(float, row[1:])
        assert sharpness > 0 and checkerboard > 0 and grey >= 0 and distance > 0
    assert float(artefacts[1][3]) < 0.05  # JPEG keeps a grey photo grey: bicubic adds nothing
    assert layers[0] == ["model", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    for row, layer_row in zip(artefacts[1:], layers[1:]):
        values = [float(v) for v in layer_row[1:]]
        assert all(v > 0 for v in values)
        assert abs(sum(values) / 4 - float(row[4])) < 1e-3


SUPERRES = Path(__file__).resolve().parents[1] / "lessons" / "lesson7_superres.py"
SUPERRES_FIGURES = ["batch", "mse_losses", "mse_results", "feat_results_64", "feat_results_96",
                    "feat_losses_96", "whole_photo", "number_gap"]


@pytest.mark.slow
def test_quick_superres_lesson_prints_the_tables_and_writes_the_figures(tmp_path, data_dir):
    models = Path(os.environ.get("MINITORCH_MODELS") or
                  Path(__file__).resolve().parents[1].parent / "shared" / "models")
    result = subprocess.run([sys.executable, str(SUPERRES), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir),
                                 "MINITORCH_MODELS": str(models)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "VGG16 (Simonyan & Zisserman, CC BY) fine-tuned as HED" in out  # the credit lines
    assert "CC BY 2.0: china.png by danielbuechele" in out
    assert ("epoch     train_loss  valid_loss  pixel     feat_0    feat_1    feat_2    gram_0    "
            "gram_1    gram_2    time") in out
    check_superres_tables(out, ["bicubic", "U-Net, MSE", "U-Net, feature loss"])
    written = (tmp_path / "results.md").read_text()
    assert written.startswith(MAIN_HEADER) and sum(line.startswith("| ")
                                                   for line in written.splitlines()) == 12
    for name in SUPERRES_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    for name in ["unet_mse", "unet_feature_loss"]:  # both U-Nets, for evaluate_superres
        assert "generator" in minitorch.load(tmp_path / "models" / f"{name}.npz"), name


SUPERRES_GAN = Path(__file__).resolve().parents[1] / "lessons" / "lesson7_superres_gan.py"
SUPERRES_GAN_FIGURES = ["gen_mse_results", "critic_batch", "gan_losses", "gan_results",
                        "gan_results_train", "whole_photo"]


@pytest.mark.slow
def test_quick_superres_gan_lesson_prints_the_tables_and_writes_the_figures(tmp_path, data_dir):
    models = Path(os.environ.get("MINITORCH_MODELS") or
                  Path(__file__).resolve().parents[1].parent / "shared" / "models")
    result = subprocess.run([sys.executable, str(SUPERRES_GAN), "--quick", "--out",
                             str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir),
                                 "MINITORCH_MODELS": str(models)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "epoch     train_loss  valid_loss  time" in out  # the generator's MSE pretraining
    assert "epoch     train_loss  valid_loss  accuracy_thresh_expand  time" in out  # the critic
    assert "epoch     train_loss  gen_loss  disc_loss  time" in out  # the GAN
    accuracy = float(out.split("critic accuracy after pretraining: ")[1].split()[0])
    assert 0 <= accuracy <= 1
    check_superres_tables(out, ["bicubic", "generator, MSE", "generator, GAN"])
    written = (tmp_path / "results.md").read_text()
    assert written.startswith(MAIN_HEADER) and sum(line.startswith("| ")
                                                   for line in written.splitlines()) == 12
    n_gen = len(list((tmp_path / "critic_data" / "image_gen").iterdir()))
    assert n_gen == len(list((tmp_path / "data" / "s64" / "hr" / "train").iterdir())) > 0
    for name in ["gen-pre2", "critic-pre2", "gan-1c"]:
        assert (tmp_path / "models" / f"{name}.npz").stat().st_size > 0, name
    for name in ["generator_mse", "generator_gan"]:  # for evaluate_superres
        assert "generator" in minitorch.load(tmp_path / "models" / f"{name}.npz"), name
    for name in SUPERRES_GAN_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
