"""Tell a face detector from a face recognizer by the shape of its ONNX graph.

Used to check that a pack's files are what its manifest says (a detector where a recognizer
belongs is refused with a clear message) and to describe a folder of unknown ONNX files.
Nothing here guesses silently: an unrecognised graph is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from desktop.errors import ModelPackError

SCRFD_OUTPUT_COUNTS = (6, 9, 10, 15)


@dataclass(frozen=True)
class GraphShape:
    role: str  # "detector", "recognizer" or "unknown"
    family: str  # "scrfd", "arcface" or ""
    input_shape: tuple[object, ...]
    output_count: int
    embedding_dim: int | None
    dynamic_quantization: bool  # DynamicQuantizeLinear makes a batch's results depend on its members


def _dims(value_info: onnx.ValueInfoProto) -> tuple[object, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in value_info.type.tensor_type.shape.dim)


def inspect_onnx(path: Path) -> GraphShape:
    """Read the graph's inputs and outputs (not its weights' values) and name its role."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError and friends
        raise ModelPackError(f"{path.name} is not a readable ONNX model", str(exc)) from exc
    graph = model.graph
    initialisers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    outputs = list(graph.output)
    quantised = any(n.op_type == "DynamicQuantizeLinear" for n in graph.node)
    if len(inputs) != 1:
        return GraphShape("unknown", "", (), len(outputs), None, quantised)
    shape = _dims(inputs[0])
    spatial = shape[2:4] if len(shape) == 4 else ()
    if len(outputs) == 1 and len(spatial) == 2 and spatial[0] == spatial[1] == 112:
        out = _dims(outputs[0])
        dim = out[-1] if out and isinstance(out[-1], int) and out[-1] > 0 else None
        return GraphShape("recognizer", "arcface", shape, 1, dim, quantised)
    if len(outputs) in SCRFD_OUTPUT_COUNTS and len(shape) == 4 and shape[1] == 3:
        return GraphShape("detector", "scrfd", shape, len(outputs), None, quantised)
    return GraphShape("unknown", "", shape, len(outputs), None, quantised)


def describe(shape: GraphShape) -> str:
    if shape.role == "detector":
        return f"a face detector ({shape.family}, {shape.output_count} outputs)"
    if shape.role == "recognizer":
        return f"a face recognizer ({shape.family}, {shape.embedding_dim}-D embedding)"
    return f"not a face model Homeward knows (input {shape.input_shape}, {shape.output_count} outputs)"
