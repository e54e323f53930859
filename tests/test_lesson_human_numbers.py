"""The human-numbers lesson runs end to end (``--quick``: a slice of the data, one epoch each)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "lesson7_human_numbers.py"
MODELS = ["Model0", "Model1", "Model2", "Model3", "Model4", "Model5", "Model6"]


@pytest.mark.slow
def test_quick_lesson_run_prints_the_final_table(tmp_path):
    result = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "vocabulary: 38 tokens" in out
    assert "validation stream 1500 tokens" in out
    table = out[out.index("| model | accuracy | lesson's accuracy | time |"):]
    rows = [line for line in table.splitlines() if line.startswith("| Model")]
    assert [row.split()[1] for row in rows] == MODELS
    for row in rows:
        accuracy = float(row.split("|")[2])
        assert 0.0 <= accuracy <= 1.0
    assert (tmp_path / "model5_losses.png").is_file()
    assert "Model5 (2-layer GRU)" in (tmp_path / "results.md").read_text()
