"""ONNX Runtime: exactly one distribution, and the provider choice reported to the user."""

from __future__ import annotations

import shutil
import subprocess
import sys

import onnxruntime as ort
import pytest

from desktop.engine.providers import (
    CPU,
    CUDA,
    choose_providers,
    cuda_usable,
    installed_ort_distributions,
    runtime_report,
)
from desktop.errors import EngineError


def test_exactly_one_onnxruntime_distribution_is_installed():
    assert installed_ort_distributions() == ["onnxruntime-gpu"]
    assert CPU in ort.get_available_providers()


def test_choice_follows_what_the_probe_found():
    assert choose_providers("auto", cuda_ok=True) == [CUDA, CPU]
    assert choose_providers("auto", cuda_ok=False) == [CPU]
    assert choose_providers("cpu", cuda_ok=True) == [CPU]
    with pytest.raises(EngineError, match="cannot be used"):
        choose_providers("cuda", cuda_ok=False)


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0


def test_auto_picks_cuda_exactly_when_a_gpu_is_present():
    expected = [CUDA, CPU] if has_nvidia_gpu() else [CPU]
    assert cuda_usable() == has_nvidia_gpu()
    assert choose_providers("auto") == expected
    report = runtime_report("auto")
    assert report.lines()[-1] == f"inference runs on: {'GPU (CUDA)' if has_nvidia_gpu() else 'CPU'}"


def test_doctor_reports_the_runtime_and_the_single_distribution():
    done = subprocess.run([sys.executable, "-m", "desktop", "doctor"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(onnxruntime-gpu)" in done.stdout
    assert "inference runs on:" in done.stdout


def test_engine_storage_and_scan_import_without_qt():
    code = ("import sys; sys.modules['PySide6'] = None\n"
            "import desktop.engine.engine, desktop.scan.analyze, desktop.cli\n"
            "assert not any(m.startswith('PySide6') and sys.modules[m] for m in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
