"""The two paper lessons run end to end on the real Fashion-MNIST files (``--quick``: tiny nets,
a few hundred images), print their tables and write their figures: He et al.'s degradation
(``lessons/paper_he2015_degradation.py``) and Li et al.'s loss landscapes
(``lessons/paper_li2018_loss_landscape.py``, which trains its nets itself when their weights
are absent).  The data folder comes from the ``data_dir`` fixture (``tests/conftest.py``)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minitorch

LESSONS = Path(__file__).resolve().parents[1] / "lessons"


def run_lesson(name, tmp_path, data_dir, *extra):
    result = subprocess.run([sys.executable, str(LESSONS / name), "--quick", "--out",
                             str(tmp_path), *extra],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg",
                                 "MINITORCH_DATA": str(data_dir)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def table_rows(text, header):
    """The rows (lists of cells) of the markdown table that starts with ``header``."""
    lines = text[text.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("| "):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def percent(cell):
    assert cell.endswith(" %"), cell
    return float(cell[:-2])


@pytest.mark.slow
def test_quick_he2015_lesson_prints_the_table_and_writes_the_figure_and_weights(tmp_path,
                                                                                data_dir):
    out = run_lesson("paper_he2015_degradation.py", tmp_path, data_dir)
    assert "epoch     train_loss  valid_loss  error_rate  train_error  time" in out
    assert "(shortcut): ShortcutA(2 → 4 channels, stride 2, zero-padded)" in out
    rows = table_rows(out, "| net | layers | parameters | training error | test error |")
    # widths (2, 4, 8), one input channel: the paper's formula gives 1,320 and 2,888
    assert [row[:3] for row in rows] == [["plain-8", "8", "1,320"], ["plain-14", "14", "2,888"],
                                         ["residual-8", "8", "1,320"],
                                         ["residual-14", "14", "2,888"]]
    for row in rows:
        assert 0 <= percent(row[3]) <= 100 and 0 <= percent(row[4]) <= 100
    assert "degradation (plain-14 above plain-8 in training error at every epoch): " in out
    assert (tmp_path / "results.md").read_text().count("\n| ") == 5
    assert (tmp_path / "errors.png").read_bytes()[:4] == b"\x89PNG"
    for kind in ("plain", "residual"):
        checkpoint = minitorch.load(tmp_path / "models" / f"{kind}14.npz")
        assert checkpoint["kind"] == kind and checkpoint["depth"] == 14
        assert checkpoint["widths"] == [2, 4, 8]
        assert "layer3.1.bn2.running_var" in checkpoint["model"]
    assert not (tmp_path / "models" / "plain8.npz").exists()  # only the deep nets are kept


@pytest.mark.slow
def test_quick_li2018_lesson_prints_the_table_and_writes_the_figures(tmp_path, data_dir):
    out = run_lesson("paper_li2018_loss_landscape.py", tmp_path, data_dir, "--surface3d")
    assert "models/residual14.npz is missing: training residual-14 first" in out
    assert "epoch     train_loss  valid_loss  error_rate  train_error  time" in out
    rows = table_rows(out, "| net | loss at θ* | loss range on the grid |")
    assert [row[0] for row in rows] == ["residual-14", "plain-14"]
    for row in rows:
        centre = float(row[1])
        low, high = (float(v) for v in row[2].split(" – "))
        assert 0 < low <= centre <= high  # θ* is on the grid
        assert 0 <= percent(row[4]) <= 100 and 0 <= percent(row[5]) <= 100
        lam_max, lam_min, ratio = float(row[6]), float(row[7]), float(row[8])
        assert lam_min <= lam_max
        assert ratio == pytest.approx(abs(lam_min / lam_max), rel=1e-2, abs=1e-3)
    for name in ("slices_1d", "contours_2d", "convexity_2d", "surfaces_3d"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    # a second run finds the weights the first one trained and saved
    again = run_lesson("paper_li2018_loss_landscape.py", tmp_path, data_dir)
    assert "is missing" not in again
    assert np.allclose([float(r[1]) for r in table_rows(again, "| net | loss at θ* |")],
                       [float(r[1]) for r in rows])
