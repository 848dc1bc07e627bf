"""ONNX Runtime provider choice: CUDA when it really works, CPU otherwise, and say which.

onnxruntime-gpu lists CUDAExecutionProvider as *available* even on machines without a GPU or
without the CUDA libraries; a session then silently falls back to the CPU after printing
loud errors. So availability is probed once by building a one-node session and reading back
the providers it actually got.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from dataclasses import dataclass
from typing import Literal

import onnxruntime as ort

from desktop.errors import EngineError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
Preference = Literal["auto", "cpu", "cuda"]
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                     "onnxruntime-openvino", "onnxruntime-silicon", "onnxruntime-qnn")


def installed_ort_distributions() -> list[str]:
    """Names of the ONNX Runtime distributions installed; more than one shadow each other."""
    found = []
    for name in ORT_DISTRIBUTIONS:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def _probe_model() -> bytes:
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph(
        [node], "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


@functools.cache
def cuda_usable() -> bool:
    """True when a session asked for CUDA actually runs on CUDA (libraries and GPU present)."""
    if CUDA not in ort.get_available_providers():
        return False
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the failed-load messages are expected on CPU machines
    ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(_probe_model(), options, providers=[CUDA, CPU])
        return CUDA in session.get_providers()
    except Exception as exc:
        log.info("CUDA provider not usable: %s", exc)
        return False
    finally:
        ort.set_default_logger_severity(3)  # keep real errors, drop ORT's warning chatter


def choose_providers(preference: Preference = "auto", *, cuda_ok: bool | None = None) -> list[str]:
    """The provider list for sessions; `cuda_ok` overrides the probe (for tests and callers
    that already probed)."""
    usable = cuda_usable() if cuda_ok is None else cuda_ok
    if preference == "cpu":
        return [CPU]
    if preference == "cuda":
        if not usable:
            raise EngineError(
                "The GPU (CUDA) was requested but cannot be used on this machine.",
                "onnxruntime-gpu needs an NVIDIA GPU, its driver, CUDA 13 and cuDNN 9 libraries",
            )
        return [CUDA, CPU]
    if preference == "auto":
        return [CUDA, CPU] if usable else [CPU]
    raise EngineError(f"Unknown provider choice {preference!r}; use auto, cpu or cuda.")


@dataclass(frozen=True)
class RuntimeReport:
    """What the user is told about the inference runtime."""

    ort_version: str
    distributions: list[str]
    available: list[str]
    cuda_usable: bool
    chosen: list[str]

    def lines(self) -> list[str]:
        device = "GPU (CUDA)" if self.chosen[0] == CUDA else "CPU"
        return [
            f"ONNX Runtime {self.ort_version} ({', '.join(self.distributions) or 'unknown'})",
            f"providers available: {', '.join(self.available)}",
            f"CUDA usable: {'yes' if self.cuda_usable else 'no'}",
            f"inference runs on: {device}",
        ]


def runtime_report(preference: Preference = "auto") -> RuntimeReport:
    return RuntimeReport(
        ort_version=ort.__version__,
        distributions=installed_ort_distributions(),
        available=list(ort.get_available_providers()),
        cuda_usable=cuda_usable(),
        chosen=choose_providers(preference),
    )


def make_session(model: str | bytes, providers: list[str], threads: int = 0) -> ort.InferenceSession:
    """A session with Homeward's options; `threads=0` lets ONNX Runtime use every core."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model, options, providers=providers)
    except Exception as exc:  # ORT raises its own untyped errors
        name = model if isinstance(model, str) else "<in-memory model>"
        raise EngineError(f"ONNX Runtime could not load {name}", str(exc)) from exc
