"""A small helper to assemble ONNX graphs node by node.

All models written by this tool use opset 17 and IR version 8: onnx 1.23
writes IR version 14 by default, which ONNX Runtime 1.31 rejects.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
PRODUCER = "bevy_mono_depth tools (mono_depth_models)"


class GraphBuilder:
    """Collects nodes and initializers; ``fp16`` stores float weights as half.

    With ``fp16=True`` every floating-point weight is stored as float16 and
    followed by a ``Cast`` to float32, so the graph still computes in float32
    and its inputs and outputs stay float32.
    """

    def __init__(self, fp16: bool = False):
        self.fp16 = fp16
        self.nodes: list = []
        self.initializers: list = []
        self._names: set = set()

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def weight(self, name: str, array: np.ndarray) -> str:
        """Add a float weight tensor; returns the name of the float32 value."""
        array = np.asarray(array, dtype=np.float32)
        if not self.fp16:
            name = self.unique(name)
            self.initializers.append(numpy_helper.from_array(array, name))
            return name
        stored = self.unique(name + ".fp16")
        self.initializers.append(numpy_helper.from_array(array.astype(np.float16), stored))
        return self.node("Cast", [stored], name=name, to=TensorProto.FLOAT)

    def const(self, name: str, array: np.ndarray) -> str:
        """Add a non-weight constant (shapes, indices): never converted."""
        name = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list, name: str | None = None, output: str | None = None, **attrs) -> str:
        """Append a node with one output; returns the output's name."""
        node_name = self.unique(name or op)
        out = output if output is not None else node_name
        if output is not None:
            self._names.add(output)
        self.nodes.append(helper.make_node(op, inputs, [out], name=node_name, **attrs))
        return out

    def model(self, inputs: list, outputs: list, name: str, metadata: dict | None = None) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.initializers)
        return make_model(graph, metadata)


def make_model(graph: onnx.GraphProto, metadata: dict | None = None) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
    )
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, {k: str(v) for k, v in metadata.items()})
    onnx.checker.check_model(model)
    return model


def tensor_info(name: str, elem_type: int, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


#: The metadata key ONNX Runtime's Core ML provider names its compiled-model
#: cache entry after (without it, after a hash of the model's path, which
#: changes when an app update moves the file).
COREML_CACHE_KEY = "COREML_CACHE_KEY"


def with_coreml_cache_key(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose ``COREML_CACHE_KEY`` metadata is made from
    its content: the first 32 hex digits of the SHA-256 of the model
    serialised without that key. The same model gets the same key wherever
    its file lies; any change to the graph, weights or metadata gives a new
    one.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    kept = [(p.key, p.value) for p in copy.metadata_props if p.key != COREML_CACHE_KEY]
    del copy.metadata_props[:]
    for key, value in kept:
        entry = copy.metadata_props.add()
        entry.key, entry.value = key, value
    digest = hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()[:32]
    entry = copy.metadata_props.add()
    entry.key, entry.value = COREML_CACHE_KEY, digest
    return copy


def save(model: onnx.ModelProto, path) -> None:
    """Write a model (all tensors inline; every model here is < 2 GB), with a
    content-made ``COREML_CACHE_KEY`` (:func:`with_coreml_cache_key`)."""
    with open(path, "wb") as f:
        f.write(with_coreml_cache_key(model).SerializeToString())


def save_external(model: onnx.ModelProto, path, data_name: str) -> None:
    """Write a model with every initializer in ONNX external data: one file
    ``data_name`` beside ``path`` (``size_threshold=0``, so even the smallest
    tensor goes there). The model's IR version is kept as ``make_model`` set it.
    """
    path = Path(path)
    # onnx appends to an existing data file: start from an empty one
    (path.parent / data_name).unlink(missing_ok=True)
    # save_model moves the tensors out of the proto it is given: a copy
    copy = with_coreml_cache_key(model)
    onnx.save_model(copy, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=0)
