"""The ResNet-on-MNIST lesson runs end to end on the real MNIST files (``--quick``: 2,000
training and 500 validation images, one epoch per model), prints its final table and writes its
figures.  The data folder comes from the ``data_dir`` fixture (``tests/conftest.py``)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def markdown_tables(text, header):
    """The rows (lists of cells, header included) of the markdown table starting at ``header``
    and of the table right after it (the layer-by-layer feature distances)."""
    lines = text[text.index(header):].splitlines()
    tables, rows = [], []
    for line in lines:
        if line.startswith("|"):
            if "---" not in line:
                rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows and not line.strip():
            tables.append(rows)
            rows = []
            if len(tables) == 2:
                break
        elif rows:
            break
    if rows:
        tables.append(rows)
    return tables


def check_layer_table(rows, layer_rows):
    """The feature distance layer by layer: the same models, four positive distances (relu2_2 …
    relu5_3) whose mean is the main table's feature distance."""
    assert layer_rows[0] == ["model", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    assert [r[0] for r in layer_rows[1:]] == [r[0] for r in rows]
    for row, layer_row in zip(rows, layer_rows[1:]):
        layers = [float(v) for v in layer_row[1:]]
        assert all(v > 0 for v in layers)
        assert abs(sum(layers) / 4 - float(row[3])) < 1e-3


SUPERRES = Path(__file__).resolve().parents[1] / "lessons" / "lesson7_superres.py"
SUPERRES_FIGURES = ["batch", "mse_losses", "mse_results", "feat_results_64", "feat_results_96",
                    "feat_losses_96", "whole_photo", "number_gap"]


@pytest.mark.slow
def test_quick_superres_lesson_prints_the_table_and_writes_the_figures(tmp_path, data_dir):
    models = Path(os.environ.get("MINITORCH_MODELS") or
                  Path(__file__).resolve().parents[1].parent / "shared" / "models")
    result = subprocess.run([sys.executable, str(SUPERRES), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir),
                                 "MINITORCH_MODELS": str(models)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "VGG16 (Simonyan & Zisserman, CC BY) fine-tuned as HED" in out  # the credit line
    assert ("epoch     train_loss  valid_loss  pixel     feat_0    feat_1    feat_2    gram_0    "
            "gram_1    gram_2    time") in out
    main, layers = markdown_tables(out, "| model | PSNR dB | SSIM | feature distance |")
    rows = main[1:]
    assert [row[0] for row in rows] == ["bicubic", "U-Net, MSE", "U-Net, feature loss"]
    for row in rows:
        psnr, ssim, distance = float(row[1]), float(row[2]), float(row[3])
        assert 15 < psnr < 40 and 0 < ssim <= 1 and distance > 0
    check_layer_table(rows, layers)
    written = (tmp_path / "results.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in written) == 8  # two tables: header, 3 models
    for name in SUPERRES_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name


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
    main, layers = markdown_tables(
        out, "| model | PSNR dB | SSIM | feature distance | sharpness ratio |")
    rows = main[1:]
    assert [row[0] for row in rows] == ["bicubic", "generator, MSE", "generator, GAN"]
    for row in rows:
        psnr, ssim, distance, sharpness = map(float, row[1:])
        assert 10 < psnr < 40 and 0 < ssim <= 1 and distance > 0 and sharpness > 0
    check_layer_table(rows, layers)
    written = (tmp_path / "results.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in written) == 8  # two tables: header, 3 models
    n_gen = len(list((tmp_path / "critic_data" / "image_gen").iterdir()))
    assert n_gen == len(list((tmp_path / "data" / "hr" / "train").iterdir())) > 0
    for name in ["gen-pre2", "critic-pre2", "gan-1c"]:
        assert (tmp_path / "models" / f"{name}.npz").stat().st_size > 0, name
    for name in SUPERRES_GAN_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
