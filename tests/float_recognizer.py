"""A float ArcFace recognizer derived from the shared int8 one, for tests of the batched path.

Why: the only ArcFace model in ../shared is dynamically quantised; its DynamicQuantizeLinear
makes a face's embedding depend on its batch companions, so the engine runs it one face per
batch and the batched path (every float model, buffalo_l, every GPU run) would go untested.
Dequantising its weights gives a float network of the same architecture and nearly the same
embeddings, which the engine batches.

The int8 graph is onnxruntime's `quantize_dynamic` output; per layer:
    DynamicQuantizeLinear(x) -> xq, xs, xz
    ConvInteger(xq, wq, xz, wz) | MatMulInteger(...) -> acc (int32)
    Mul(xs, ws) -> scale;  Cast(acc) -> accf;  Mul(accf, scale) -> y
which becomes Conv(x, (wq - wz) * ws) | MatMul(...) -> y.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

INTEGER_OPS = {"ConvInteger": "Conv", "MatMulInteger": "MatMul"}
QUANTISED_SUFFIX = "_quantized"


def _dequantised_weight(initialisers: dict[str, np.ndarray], quantised: str, zero_point: str,
                        op: str) -> np.ndarray:
    """(wq - wz) * ws, with a per-channel scale broadcast along the output channels."""
    base = quantised.removesuffix(QUANTISED_SUFFIX)
    scale = initialisers[f"{base}_scale"].astype(np.float32)
    zero = initialisers[zero_point].astype(np.float32)
    weight = initialisers[quantised].astype(np.float32)
    if scale.ndim == 1 and op == "Conv":  # (C_out,) against (C_out, C_in, kh, kw)
        scale, zero = scale.reshape(-1, 1, 1, 1), zero.reshape(-1, 1, 1, 1) if zero.ndim else zero
    return ((weight - zero) * scale).astype(np.float32)


def dequantise(int8_path: Path, float_path: Path) -> Path:
    """Write a float copy of a dynamically quantised ONNX model; returns float_path."""
    model = onnx.load(str(int8_path))
    graph = model.graph
    initialisers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    producer = {out: node for node in graph.node for out in node.output}
    dropped: set[int] = set()
    replacements: dict[int, onnx.NodeProto] = {}
    new_weights: list[onnx.TensorProto] = []
    for node in graph.node:
        op = INTEGER_OPS.get(node.op_type)
        if op is None:
            continue
        x_quantised, w_quantised, _, w_zero = node.input
        quantise = producer[x_quantised]
        assert quantise.op_type == "DynamicQuantizeLinear", quantise.op_type
        (cast,) = consumers[node.output[0]]
        (rescale,) = consumers[cast.output[0]]
        assert cast.op_type == "Cast" and rescale.op_type == "Mul"
        scales = producer[next(i for i in rescale.input if i != cast.output[0])]
        weight_name = f"{w_quantised.removesuffix(QUANTISED_SUFFIX)}_float"
        new_weights.append(numpy_helper.from_array(
            _dequantised_weight(initialisers, w_quantised, w_zero, op), weight_name))
        replacements[id(node)] = helper.make_node(
            op, [quantise.input[0], weight_name], list(rescale.output), name=f"{node.name}_float",
            **{a.name: helper.get_attribute_value(a) for a in node.attribute})
        dropped |= {id(cast), id(rescale), id(scales), id(quantise)}
    nodes = [replacements.get(id(n), n) for n in graph.node if id(n) not in dropped]
    used = {name for n in nodes for name in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    new_graph = helper.make_graph(nodes, graph.name, list(graph.input), list(graph.output),
                                  kept + [w for w in new_weights if w.name in used])
    result = helper.make_model(new_graph, opset_imports=list(model.opset_import),
                               producer_name="homeward-tests-dequantise")
    result.ir_version = model.ir_version
    for output in result.graph.output:  # declared (1, 512) in the int8 file: any batch here
        output.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.checker.check_model(result)
    onnx.save(result, str(float_path))
    return float_path
