"""Test-suite rules that hold for every test file.

* torch is the reference: it must be importable (a missing torch fails the run, never skips).
* A skipped test fails the run, except a test marked ``cuda`` on a machine without a GPU.
* At the end, the number of torch-comparison tests that ran and passed is printed.
* The fixture ``data_dir`` is the folder holding mnist/ and fashion_mnist/.
* ``$MINITORCH_MODELS`` (pretrained weights) defaults to the workplace's ../shared/models.
* With ``MINITORCH_DEVICE=cuda`` and no real GPU (CuPy missing or seeing no device), the strict
  CuPy stand-in in ``tests/fake_cupy`` (NumPy underneath, CuPy's rules on top) is put first on
  ``sys.path`` before minitorch is imported, so the whole suite runs the GPU code path.
"""
import os
import sys
from pathlib import Path


def _real_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, or CuPy without a driver
        return False


STAND_IN = False
if os.environ.get("MINITORCH_DEVICE", "cpu").startswith("cuda") and not _real_gpu():
    for name in [m for m in sys.modules if m == "cupy" or m.startswith(("cupy.", "cupyx"))]:
        del sys.modules[name]
    _FAKE = str(Path(__file__).resolve().parent / "fake_cupy")
    sys.path.insert(0, _FAKE)
    # The lessons run as subprocesses: they find the stand-in the same way.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_FAKE, os.environ.get("PYTHONPATH")]))
    STAND_IN = True
else:  # the stand-in may also come first on PYTHONPATH (benchmarks/gpu_check.sh's dry run)
    try:
        import cupy
        STAND_IN = hasattr(cupy, "_stand_in")
    except ImportError:
        pass

import pytest

try:
    import torch  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the machine
    raise pytest.UsageError(
        "PyTorch is the reference implementation of the test suite and is not installed: "
        "pip install -e '.[test]'") from error

import minitorch
from minitorch.data.download import KNOWN_CHECKSUMS, cache_dir, fetch

RESULTS = {"torch_passed": 0, "torch_failed": 0, "bad_skips": []}


def pytest_configure(config):
    # The pretrained weights (vgg16_hed_features.npz) are read from $MINITORCH_MODELS: point it
    # at the workplace's ../shared/models when it is not set, as data_dir does for the data.
    models = Path(__file__).resolve().parents[1].parent / "shared" / "models"
    if not os.environ.get("MINITORCH_MODELS") and models.is_dir():
        os.environ["MINITORCH_MODELS"] = str(models)
    config.addinivalue_line("markers", "torch: compares minitorch against PyTorch")
    config.addinivalue_line("markers", "cuda: needs a GPU (the only allowed skip)")
    config.addinivalue_line("markers", "slow: runs a lesson or trains a model")


def pytest_collection_modifyitems(config, items):
    for item in items:
        # Every test that touches torch (through the harness or directly) counts as a comparison.
        module = getattr(item, "module", None)
        if module is not None and ("torch" in vars(module) or "check" in vars(module)):
            item.add_marker(pytest.mark.torch)


@pytest.fixture(autouse=True)
def _seed():
    minitorch.manual_seed(0)
    yield
    # an index check a test left unread on the device must not fail the next test
    minitorch.speed.gpu._pending_checks.clear()


@pytest.fixture
def data_dir():
    """The folder holding mnist/ and fashion_mnist/: $MINITORCH_DATA, else the workplace's
    ../shared/data, else the download cache, filled (and checksummed) the way a user's machine
    would fill it.  Without any of them and without a network the tests that need it fail."""
    if os.environ.get("MINITORCH_DATA"):
        return Path(os.environ["MINITORCH_DATA"])
    local = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if (local / "mnist").is_dir():
        return local
    for key in KNOWN_CHECKSUMS:
        fetch(*key.split("/"))  # found in the cache, or downloaded there and verified
    return cache_dir()


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        is_torch = "torch" in report.keywords
        if report.skipped:
            if not ("cuda" in report.keywords and not minitorch.cuda_is_available()):
                RESULTS["bad_skips"].append(report.nodeid)
        elif is_torch and report.when == "call":
            RESULTS["torch_passed" if report.passed else "torch_failed"] += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"torch-comparison tests: {RESULTS['torch_passed']} passed, "
        f"{RESULTS['torch_failed']} failed (device: {os.environ.get('MINITORCH_DEVICE', 'cpu')}"
        f"{', CuPy stand-in' if STAND_IN else ''})")
    if RESULTS["bad_skips"]:
        terminalreporter.write_line(
            "skipped tests count as failures here (only GPU tests may skip without a GPU):")
        for nodeid in RESULTS["bad_skips"]:
            terminalreporter.write_line(f"    {nodeid}")


def pytest_sessionfinish(session, exitstatus):
    if RESULTS["bad_skips"] and session.exitstatus == 0:
        session.exitstatus = 1
