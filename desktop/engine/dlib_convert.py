"""Convert dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) to ONNX.

Why: the model is public domain and ships on PyPI, so it gives Homeward a default pack with no
download and no non-commercial licence; as ONNX it runs on the same ONNX Runtime path (CPU or
CUDA) as every other recognizer. Only numpy and the `onnx` package are used: dlib's C++ code
plays no part in the conversion (the tests compare against it).

dlib's format, as written by dlib's `serialize()` functions:
- integers: one control byte (low nibble = byte count, bit 7 = negative), then the magnitude's
  bytes, little-endian; floats/doubles: a mantissa integer then an exponent integer;
  strings: a length integer then the bytes; bools: the characters '0' / '1';
- tensors: version 2, four dimensions (n, k, rows, cols), then raw little-endian float32;
  alias tensors (views into a layer's parameter tensor): version 1 and four dimensions.
- a network is written recursively, top layer first: the loss layer, then each wrapper's
  version number down to the input layer, then, from the bottom up, each layer's details
  (a name such as "con_4", its parameters) followed by that wrapper's cached state.
  Tag and skip wrappers only write a version, so the wiring between residual branches is
  not in the file: it is the `anet_type` of dlib's tools/python/src/face_recognition.cpp,
  reproduced in ANET_LAYOUT below, and the file is checked against it record by record.

Two behaviours of dlib that a naive translation gets wrong: convolutions and pools with
stride 2 have no padding (stride 1 pads by half the kernel), and `add_prev` adds tensors of
different sizes by zero-padding the smaller one at the bottom/right (aligned top-left).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from desktop.errors import ModelPackError
from desktop.fileio import write_atomically

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8  # the oldest IR that opset 17 allows: readable by older ONNX Runtimes too
INPUT_NAME = "input"
OUTPUT_NAME = "embedding"
PRODUCER = "homeward.dlib_convert"
PRODUCER_VERSION = "1"  # bump when the emitted graph changes: its hash is pinned in manifests

_MAX_STRING = 256
_FLOAT_SPECIAL_EXPONENTS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


# ---------------------------------------------------------------------------------------------
# The expected layout: dlib's anet_type, bottom (input side) first.


@dataclass(frozen=True)
class Op:
    """One record of the network layout; `args` depend on `kind` (see the builders below)."""

    kind: str  # con, affine, relu, max_pool, avg_pool, avg_pool_everything, tag, skip, add_prev, fc
    args: tuple[int, ...] = ()

    @property
    def is_wrapper(self) -> bool:
        """Tag and skip wrappers have no layer details in the file."""
        return self.kind in ("tag", "skip")


def _block(filters: int, stride: int) -> list[Op]:
    return [Op("con", (filters, 3, stride)), Op("affine"), Op("relu"),
            Op("con", (filters, 3, 1)), Op("affine")]


def _ares(filters: int) -> list[Op]:
    """relu<add_prev1<block<N,1,tag1<SUBNET>>>>"""
    return [Op("tag", (1,)), *_block(filters, 1), Op("add_prev", (1,)), Op("relu")]


def _ares_down(filters: int) -> list[Op]:
    """relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<SUBNET>>>>>>>"""
    return [Op("tag", (1,)), *_block(filters, 2), Op("tag", (2,)), Op("skip", (1,)),
            Op("avg_pool", (2, 2)), Op("add_prev", (2,)), Op("relu")]


def _anet_layout() -> tuple[Op, ...]:
    ops = [Op("con", (32, 7, 2)), Op("affine"), Op("relu"), Op("max_pool", (3, 2))]
    ops += _ares(32) * 3                      # alevel4
    ops += _ares_down(64) + _ares(64) * 3     # alevel3
    ops += _ares_down(128) + _ares(128) * 2   # alevel2
    ops += _ares_down(256) + _ares(256) * 2   # alevel1
    ops += _ares_down(256)                    # alevel0
    ops += [Op("avg_pool_everything"), Op("fc", (128,))]
    return tuple(ops)


ANET_LAYOUT = _anet_layout()
INPUT_SIZE = 150


# ---------------------------------------------------------------------------------------------
# Reading dlib's serialization.


class _Reader:
    """A cursor over the file's bytes; every failure is a ModelPackError naming the offset."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def fail(self, what: str) -> ModelPackError:
        return ModelPackError(
            f"{self.source} is not a usable dlib face-recognition ResNet: {what}.",
            f"at byte {self.pos} of {len(self.data)}")

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise self.fail(f"the file ends inside {what} (truncated?)")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def integer(self, what: str = "an integer") -> int:
        control = self.take(1, what)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"byte {control:#04x} does not start {what}")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def expect(self, expected: int, what: str) -> None:
        value = self.integer(what)
        if value != expected:
            raise self.fail(f"{what} is {value}, expected {expected}")

    def real(self, what: str = "a number") -> float:
        mantissa, exponent = self.integer(what), self.integer(what)
        if exponent in _FLOAT_SPECIAL_EXPONENTS:
            return _FLOAT_SPECIAL_EXPONENTS[exponent]
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError:
            raise self.fail(f"{what} is out of range") from None

    def boolean(self, what: str = "a flag") -> bool:
        char = self.take(1, what)
        if char not in (b"0", b"1"):
            raise self.fail(f"{what} is {char!r}, not '0' or '1'")
        return char == b"1"

    def string(self, what: str = "a name") -> str:
        length = self.integer(what)
        if not 0 <= length <= _MAX_STRING:
            raise self.fail(f"{what} has an implausible length {length}")
        try:
            return self.take(length, what).decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not text") from None

    def dims(self, what: str) -> tuple[int, int, int, int]:
        dims = (self.integer(what), self.integer(what), self.integer(what), self.integer(what))
        if any(d < 0 for d in dims):
            raise self.fail(f"{what} has negative dimensions {dims}")
        return dims

    def tensor(self, what: str) -> np.ndarray:
        self.expect(2, f"the version of {what}")
        dims = self.dims(what)
        count = math.prod(dims)
        raw = self.take(4 * count, what)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        self.expect(1, f"the version of {what}")
        return self.dims(what)


# ---------------------------------------------------------------------------------------------
# Parsed network.


@dataclass
class Layer:
    """One parsed layer: its layout entry and the arrays it carries."""

    op: Op
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibResnet:
    """The parsed network: input normalisation and the layers, bottom first."""

    channel_means: tuple[float, float, float]  # R, G, B, subtracted before dividing by 256
    input_size: int
    layers: list[Layer]


def _read_loss(reader: _Reader) -> None:
    reader.expect(1, "the loss layer's version")
    name = reader.string("the loss layer's name")
    if name != "loss_metric_2":
        raise reader.fail(f"its top layer is {name!r}, expected dlib's metric loss 'loss_metric_2'")
    reader.real("the loss margin")
    reader.real("the loss distance threshold")


def _read_wrapper_versions(reader: _Reader) -> int:
    """The versions written top-down by each wrapper; returns the bottom wrapper's version."""
    for op in reversed(ANET_LAYOUT[1:]):
        reader.expect(1 if op.is_wrapper else 2, f"the version of the {op.kind} wrapper")
    bottom = reader.integer("the version of the input-side layer")
    if bottom not in (2, 3):
        raise reader.fail(f"the input-side layer has version {bottom}, expected 2 or 3")
    return bottom


def _read_input(reader: _Reader) -> tuple[tuple[float, float, float], int]:
    name = reader.string("the input layer's name")
    if name != "input_rgb_image_sized":
        raise reader.fail(f"its input layer is {name!r}, expected 'input_rgb_image_sized'")
    means = (reader.real("the red mean"), reader.real("the green mean"),
             reader.real("the blue mean"))
    rows, cols = reader.integer("the input rows"), reader.integer("the input columns")
    if rows != INPUT_SIZE or cols != INPUT_SIZE:
        raise reader.fail(f"its input is {rows}x{cols}, expected {INPUT_SIZE}x{INPUT_SIZE}")
    return means, rows


def _check(reader: _Reader, ok: bool, what: str) -> None:
    if not ok:
        raise reader.fail(what)


def _params_slice(reader: _Reader, params: np.ndarray, start: int,
                  dims: tuple[int, ...], what: str) -> np.ndarray:
    flat = params.reshape(-1)
    count = math.prod(dims)
    _check(reader, start + count <= flat.size, f"{what} lies outside its parameter tensor")
    return flat[start:start + count].reshape(dims).copy()


def _read_con(reader: _Reader, name: str, op: Op) -> dict[str, np.ndarray]:
    filters, size, stride = op.args
    params = reader.tensor("convolution parameters")
    found = [reader.integer("a convolution setting") for _ in range(7)]
    padding = 0 if stride != 1 else size // 2
    expected = [filters, size, size, stride, stride, padding, padding]
    _check(reader, found == expected, f"a convolution has (filters, rows, cols, strides, "
                                      f"paddings) {found}, expected {expected}")
    weight_dims = reader.alias("convolution filters")
    bias_dims = reader.alias("convolution biases")
    for what in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        reader.real(f"the convolution's {what} multiplier")
    use_bias = reader.boolean("the convolution's bias flag") if name == "con_5" else True
    _check(reader, weight_dims[0] == filters and weight_dims[2:] == (size, size),
           f"convolution filters have dimensions {weight_dims}")
    arrays = {"weight": _params_slice(reader, params, 0, weight_dims, "convolution filters")}
    if use_bias:
        _check(reader, math.prod(bias_dims) == filters, f"convolution biases are {bias_dims}")
        arrays["bias"] = _params_slice(reader, params, math.prod(weight_dims), (filters,),
                                       "convolution biases")
    return arrays


def _read_affine(reader: _Reader) -> dict[str, np.ndarray]:
    params = reader.tensor("affine parameters")
    gamma_dims, beta_dims = reader.alias("affine scale"), reader.alias("affine shift")
    mode = reader.integer("the affine mode")
    _check(reader, mode == 0, f"an affine layer is in mode {mode}, expected per-channel (0)")
    _check(reader, gamma_dims == beta_dims and gamma_dims[0] == 1 and gamma_dims[2:] == (1, 1),
           f"affine scale/shift have dimensions {gamma_dims} / {beta_dims}")
    channels = gamma_dims[1]
    return {"gamma": _params_slice(reader, params, 0, (channels,), "affine scale"),
            "beta": _params_slice(reader, params, channels, (channels,), "affine shift")}


def _read_pool(reader: _Reader, op: Op) -> dict[str, np.ndarray]:
    found = [reader.integer("a pooling setting") for _ in range(6)]
    if op.kind == "avg_pool_everything":
        expected = [0, 0, 1, 1, 0, 0]
    else:
        size, stride = op.args
        padding = 0 if stride != 1 else size // 2
        expected = [size, size, stride, stride, padding, padding]
    _check(reader, found == expected,
           f"a pooling layer has (rows, cols, strides, paddings) {found}, expected {expected}")
    return {}


def _read_fc(reader: _Reader, op: Op) -> dict[str, np.ndarray]:
    outputs, inputs = reader.integer("fc outputs"), reader.integer("fc inputs")
    _check(reader, outputs == op.args[0],
           f"the fc layer has {outputs} outputs, expected {op.args[0]}")
    params = reader.tensor("fc parameters")
    weight_dims = reader.alias("fc weights")
    reader.alias("fc biases")
    has_bias = reader.integer("the fc bias mode") == 0  # dlib: FC_HAS_BIAS=0, FC_NO_BIAS=1
    for what in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        reader.real(f"the fc's {what} multiplier")
    _check(reader, weight_dims[:2] == (inputs, outputs), f"fc weights are {weight_dims}")
    _check(reader, params.size == inputs * outputs + (outputs if has_bias else 0),
           f"fc parameters hold {params.size} values for {inputs}x{outputs} weights")
    arrays = {"weight": _params_slice(reader, params, 0, (inputs, outputs), "fc weights")}
    if has_bias:
        arrays["bias"] = _params_slice(reader, params, inputs * outputs, (outputs,), "fc biases")
    return arrays


_NAMES = {"con": ("con_4", "con_5"), "affine": ("affine_",), "relu": ("relu_",),
          "max_pool": ("max_pool_2",), "avg_pool": ("avg_pool_2",),
          "avg_pool_everything": ("avg_pool_2",), "add_prev": ("add_prev_",), "fc": ("fc_2",)}


def _read_details(reader: _Reader, op: Op) -> dict[str, np.ndarray]:
    name = reader.string("a layer name")
    if name not in _NAMES[op.kind]:
        raise reader.fail(f"found layer {name!r} where the ResNet layout has a {op.kind} layer")
    if op.kind == "con":
        return _read_con(reader, name, op)
    if op.kind == "affine":
        return _read_affine(reader)
    if op.kind in ("max_pool", "avg_pool", "avg_pool_everything"):
        return _read_pool(reader, op)
    if op.kind == "fc":
        return _read_fc(reader, op)
    return {}  # relu_ and add_prev_ carry nothing but their name


def _read_wrapper_state(reader: _Reader, bottom_version: int | None) -> None:
    """Training-time state every add_layer writes after its details; not needed here."""
    for what in ("setup flag", "gradient flag", "output flag"):
        reader.boolean(f"a layer's {what}")
    for what in ("gradient", "cached output", "final gradient"):
        reader.tensor(f"a layer's {what}")
    if bottom_version == 3:
        reader.integer("the input-side layer's sample expansion factor")


def parse_dlib_resnet(data: bytes, source: str = "the model file") -> DlibResnet:
    """Read and check every record of a serialized `anet_type`; no bytes may be left over."""
    reader = _Reader(data, source)
    _read_loss(reader)
    bottom_version = _read_wrapper_versions(reader)
    means, size = _read_input(reader)
    layers = []
    for index, op in enumerate(ANET_LAYOUT):
        if op.is_wrapper:
            layers.append(Layer(op))
            continue
        layers.append(Layer(op, _read_details(reader, op)))
        _read_wrapper_state(reader, bottom_version if index == 0 else None)
    if reader.pos != len(data):
        raise reader.fail(f"{len(data) - reader.pos} unexpected bytes follow the network")
    return DlibResnet(means, size, layers)


# ---------------------------------------------------------------------------------------------
# Building the ONNX graph.


@dataclass
class _Value:
    """A tensor in the graph being built and its static (channels, rows, cols)."""

    name: str
    shape: tuple[int, int, int]


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, array: np.ndarray) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], stem: str, **attrs: object) -> str:
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _pool_out(size: int, window: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - window) // stride


def _emit_con(g: _GraphBuilder, x: _Value, layer: Layer) -> _Value:
    filters, size, stride = layer.op.args
    weight = layer.arrays["weight"]
    if weight.shape[1] != x.shape[0]:
        raise ModelPackError(f"A convolution expects {weight.shape[1]} input channels, "
                             f"the layer below gives {x.shape[0]}.")
    pad = 0 if stride != 1 else size // 2
    inputs = [x.name, g.constant("conv_w", weight)]
    if "bias" in layer.arrays:
        inputs.append(g.constant("conv_b", layer.arrays["bias"]))
    out = g.node("Conv", inputs, "conv", kernel_shape=[size, size], strides=[stride, stride],
                 pads=[pad] * 4)
    rows, cols = (_pool_out(s, size, stride, pad) for s in x.shape[1:])
    return _Value(out, (filters, rows, cols))


def _emit_affine(g: _GraphBuilder, x: _Value, layer: Layer) -> _Value:
    gamma, beta = layer.arrays["gamma"], layer.arrays["beta"]
    if gamma.size != x.shape[0]:
        raise ModelPackError(f"An affine layer has {gamma.size} channels, "
                             f"the layer below gives {x.shape[0]}.")
    scaled = g.node("Mul", [x.name, g.constant("affine_g", gamma.reshape(1, -1, 1, 1))], "scale")
    shifted = g.node("Add", [scaled, g.constant("affine_b", beta.reshape(1, -1, 1, 1))], "shift")
    return _Value(shifted, x.shape)


def _emit_pool(g: _GraphBuilder, x: _Value, layer: Layer) -> _Value:
    if layer.op.kind == "avg_pool_everything":
        return _Value(g.node("GlobalAveragePool", [x.name], "gap"), (x.shape[0], 1, 1))
    size, stride = layer.op.args
    pad = 0 if stride != 1 else size // 2
    op_type = "MaxPool" if layer.op.kind == "max_pool" else "AveragePool"
    out = g.node(op_type, [x.name], "pool", kernel_shape=[size, size], strides=[stride, stride],
                 pads=[pad] * 4)
    rows, cols = (_pool_out(s, size, stride, pad) for s in x.shape[1:])
    return _Value(out, (x.shape[0], rows, cols))


def _pad_to(g: _GraphBuilder, x: _Value, shape: tuple[int, int, int]) -> str:
    """Zero-pad at the end of channels, rows and columns, as dlib's tensor add does."""
    extra = [target - have for target, have in zip(shape, x.shape, strict=True)]
    if not any(extra):
        return x.name
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
    return g.node("Pad", [x.name, g.constant("pads", pads)], "pad", mode="constant")


def _emit_add_prev(g: _GraphBuilder, x: _Value, tagged: _Value) -> _Value:
    (c1, r1, w1), (c2, r2, w2) = x.shape, tagged.shape
    shape = (max(c1, c2), max(r1, r2), max(w1, w2))
    out = g.node("Add", [_pad_to(g, x, shape), _pad_to(g, tagged, shape)], "add")
    return _Value(out, shape)


def _emit_fc(g: _GraphBuilder, x: _Value, layer: Layer) -> str:
    weight = layer.arrays["weight"]
    if weight.shape[0] != math.prod(x.shape):
        raise ModelPackError(f"The fc layer expects {weight.shape[0]} inputs, "
                             f"the layer below gives {math.prod(x.shape)}.")
    flat = g.node("Flatten", [x.name], "flatten", axis=1)
    if "bias" not in layer.arrays:
        return g.node("MatMul", [flat, g.constant("fc_w", weight)], "fc")
    bias = g.constant("fc_b", layer.arrays["bias"])
    return g.node("Gemm", [flat, g.constant("fc_w", weight), bias], "fc")


def _emit_input(g: _GraphBuilder, net: DlibResnet) -> _Value:
    """dlib's input layer: (pixel - channel mean) / 256, in float32 like dlib."""
    means = np.array(net.channel_means, dtype=np.float32).reshape(1, 3, 1, 1)
    centred = g.node("Sub", [INPUT_NAME, g.constant("rgb_mean", means)], "centre")
    scaled = g.node("Div", [centred, g.constant("rgb_scale", np.array(256.0, np.float32))], "norm")
    return _Value(scaled, (3, net.input_size, net.input_size))


def build_onnx(net: DlibResnet) -> onnx.ModelProto:
    """The ONNX model: RGB 0..255 [N,3,150,150] in, the raw 128-D dlib descriptor out."""
    g = _GraphBuilder()
    x = _emit_input(g, net)
    tags: dict[int, _Value] = {}
    output = ""
    for layer in net.layers:
        kind = layer.op.kind
        if kind == "tag":
            tags[layer.op.args[0]] = x
        elif kind == "skip":
            x = tags[layer.op.args[0]]
        elif kind == "add_prev":
            x = _emit_add_prev(g, x, tags[layer.op.args[0]])
        elif kind == "con":
            x = _emit_con(g, x, layer)
        elif kind == "affine":
            x = _emit_affine(g, x, layer)
        elif kind == "relu":
            x = _Value(g.node("Relu", [x.name], "relu"), x.shape)
        elif kind == "fc":
            output = _emit_fc(g, x, layer)
        else:
            x = _emit_pool(g, x, layer)
    g.nodes.append(helper.make_node("Identity", [output], [OUTPUT_NAME], name="output"))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["N", 3, net.input_size, net.input_size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 128])],
        initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version=PRODUCER_VERSION,
                              doc_string="dlib_face_recognition_resnet_model_v1 (public domain), "
                                         "input RGB 0..255 150x150, output raw 128-D descriptor")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def convert_dlib_resnet(dat_path: Path, onnx_path: Path) -> None:
    """Convert dlib's ResNet .dat to ONNX; the same input always gives the same bytes."""
    dat_path, onnx_path = Path(dat_path), Path(onnx_path)
    try:
        data = dat_path.read_bytes()
    except OSError as exc:
        raise ModelPackError(f"Cannot read the dlib model {dat_path}", str(exc)) from exc
    net = parse_dlib_resnet(data, str(dat_path))
    model = build_onnx(net)
    payload = model.SerializeToString(deterministic=True)
    write_atomically(onnx_path, payload)
    log.info("converted %s to %s (%d nodes, %d bytes)", dat_path.name, onnx_path,
             len(model.graph.node), len(payload))
