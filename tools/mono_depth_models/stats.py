"""Parameter and multiply-add counts computed from an ONNX graph."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import shape_inference

_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}


def _shape(vi: onnx.ValueInfoProto):
    dims = vi.type.tensor_type.shape.dim
    if any(not d.HasField("dim_value") for d in dims):
        return None
    return [d.dim_value for d in dims]


def count(model: onnx.ModelProto) -> dict:
    """Count parameters and multiply-adds.

    * parameters: elements of every floating-point initializer, i.e. conv
      weights and biases and, in an unfused model, batch-norm scale, offset,
      mean and variance (reported separately as ``bn_statistics``).
    * multiply-adds: for every ``Conv``, output elements x (input channels /
      group) x kernel area; for ``MatMul``/``Gemm``, the usual product. Element
      -wise ops (BN, ReLU, Add, pooling) are not counted. Shapes come from
      ONNX shape inference, so they need static input dimensions.
    """
    inits = {t.name: t for t in model.graph.initializer}
    bn_stats = set()
    for n in model.graph.node:
        if n.op_type == "BatchNormalization":
            bn_stats.update(n.input[3:5])
    params = bn_count = 0
    for t in inits.values():
        if t.data_type in _FLOAT_TYPES:
            size = int(np.prod(t.dims, dtype=np.int64))
            if t.name in bn_stats:
                bn_count += size
            else:
                params += size

    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        shapes[vi.name] = _shape(vi)
    # weights behind a Cast (fp16 storage) keep their initializer dims
    source = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Cast"}
    for name, t in inits.items():
        shapes[name] = list(t.dims)
    for out, src in source.items():
        if src in inits:
            shapes[out] = list(inits[src].dims)

    macs = 0
    unknown = []
    convs = 0
    for n in model.graph.node:
        if n.op_type == "Conv":
            convs += 1
            w, y = shapes.get(n.input[1]), shapes.get(n.output[0])
            if w is None or y is None:
                unknown.append(n.name)
                continue
            # weight is [out, in / group, kh, kw]: each output element costs
            # (in / group) * kh * kw multiply-adds
            macs += int(np.prod(y, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
        elif n.op_type in ("MatMul", "Gemm"):
            a, y = shapes.get(n.input[0]), shapes.get(n.output[0])
            if a is None or y is None:
                unknown.append(n.name)
                continue
            k = a[-1] if n.op_type == "MatMul" or not any(x.name == "transA" and x.i for x in n.attribute) else a[-2]
            macs += int(np.prod(y, dtype=np.int64)) * k
    inputs = {i.name: _shape(i) for i in model.graph.input if i.name not in inits}
    return {
        "parameters": params,
        "bn_statistics": bn_count,
        "macs": macs,
        "conv_nodes": convs,
        "nodes_without_shapes": unknown,
        "inputs": inputs,
    }


def _human(n: float, unit: str) -> str:
    for div, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if n >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def report(path) -> str:
    model = onnx.load(str(path))
    c = count(model)
    meta = {p.key: p.value for p in model.metadata_props}
    lines = [f"model:          {path}"]
    if "mono_depth.model" in meta:
        lines.append(f"kind:           {meta['mono_depth.model']} ({meta.get('mono_depth.precision', '?')}, "
                     f"weights: {meta.get('mono_depth.weights', '?')})")
    for name, shape in c["inputs"].items():
        lines.append(f"input:          {name} {shape if shape else '(dynamic)'}")
    total = c["parameters"] + c["bn_statistics"]
    lines.append(f"parameters:     {c['parameters']:,} ({_human(c['parameters'], '')})".rstrip())
    if c["bn_statistics"]:
        lines.append(f"BN statistics:  {c['bn_statistics']:,} (running mean/variance; {total:,} with them)")
    lines.append(f"multiply-adds:  {c['macs']:,} ({_human(c['macs'], 'MAC')}) over {c['conv_nodes']} Conv nodes")
    if c["nodes_without_shapes"]:
        lines.append(f"(not counted, shapes unknown: {', '.join(c['nodes_without_shapes'])})")
    return "\n".join(lines)
