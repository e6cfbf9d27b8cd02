"""ONNX graph of FCRN ResNet-50 up-projection from ``{layer: {param: array}}``.

The weights dict has the layout of the authors' ``NYU_ResNet-UpProj.npy``
(conv ``weights`` HWIO + ``biases``; batch-norm ``scale/offset/mean/variance``).
The graph is NCHW: input ``image`` [1,3,228,304] RGB 0-255, output ``depth``
[1,1,128,160] in metres.

Initializer names: ``<layer>.weight`` (OIHW) and ``<layer>.bias`` for convs;
with ``fuse_bn=False`` also ``<bn>.scale/.offset/.mean/.variance`` feeding
``BatchNormalization`` nodes (epsilon 1e-4). With ``fuse_bn=True`` each BN is
folded into the conv(s) before it (for the up-projection, into all four of
A/B/C/D, since the interleave only moves pixels within a channel).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from . import architecture as arch
from .onnx_graph import GraphBuilder, tensor_info

INPUT_NAME = "image"
OUTPUT_NAME = "depth"


def fold_bn(w_oihw: np.ndarray, bias: np.ndarray | None, bn: dict) -> tuple:
    """Fold inference batch-norm into a conv: returns (weight, bias) float32."""
    scale = np.asarray(bn["scale"], np.float64)
    offset = np.asarray(bn["offset"], np.float64)
    mean = np.asarray(bn["mean"], np.float64)
    var = np.asarray(bn["variance"], np.float64)
    k = scale / np.sqrt(var + arch.BN_EPSILON)
    w = w_oihw.astype(np.float64) * k[:, None, None, None]
    b = (np.zeros_like(mean) if bias is None else bias.astype(np.float64)) - mean
    return w.astype(np.float32), (b * k + offset).astype(np.float32)


class _FcrnGraph:
    def __init__(self, weights: dict, fuse_bn: bool, fp16: bool):
        self.w = weights
        self.fuse = fuse_bn
        self.g = GraphBuilder(fp16=fp16)

    # -- primitives -------------------------------------------------------
    def conv(self, x: str, spec: arch.ConvSpec, bn: str | None) -> str:
        """Conv (+ its BN, folded or as a node unless ``bn`` is None)."""
        layer = self.w[spec.name]
        w = np.ascontiguousarray(np.asarray(layer["weights"], np.float32).transpose(3, 2, 0, 1))
        b = np.asarray(layer["biases"], np.float32) if spec.bias else None
        if bn is not None and self.fuse:
            w, b = fold_bn(w, b, self.w[bn])
        inputs = [x, self.g.weight(f"{spec.name}.weight", w)]
        if b is not None:
            inputs.append(self.g.weight(f"{spec.name}.bias", b))
        y = self.g.node(
            "Conv", inputs, name=spec.name,
            kernel_shape=[spec.kh, spec.kw], strides=[spec.stride, spec.stride],
            pads=list(spec.pads), dilations=[1, 1], group=1,
        )
        if bn is not None and not self.fuse:
            y = self.bn_node(y, bn)
        return y

    def bn_node(self, x: str, bn: str) -> str:
        p = self.w[bn]
        ins = [x] + [self.g.weight(f"{bn}.{k}", p[k]) for k in arch.BN_PARAMS]
        return self.g.node("BatchNormalization", ins, name=bn, epsilon=arch.BN_EPSILON)

    def relu(self, x: str, name: str) -> str:
        return self.g.node("Relu", [x], name=name)

    def add(self, a: str, b: str, name: str) -> str:
        return self.g.node("Add", [a, b], name=name)

    # -- blocks -----------------------------------------------------------
    def stem(self, x: str, b: arch.Stem) -> str:
        y = self.relu(self.conv(x, b.conv, b.bn), "bn_conv1_relu")
        # TensorFlow SAME max-pool on 114x152: pad 0 before, 1 after.
        return self.g.node("MaxPool", [y], name="pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])

    def bottleneck(self, x: str, b: arch.Bottleneck) -> str:
        c2a, c2b, c2c = b.branch2
        y = self.relu(self.conv(x, c2a, b.bn_name(c2a)), f"{b.bn_name(c2a)}_relu")
        y = self.relu(self.conv(y, c2b, b.bn_name(c2b)), f"{b.bn_name(c2b)}_relu")
        y = self.conv(y, c2c, b.bn_name(c2c))
        shortcut = x if b.branch1 is None else self.conv(x, b.branch1, b.bn_name(b.branch1))
        return self.relu(self.add(shortcut, y, f"res{b.prefix}"), f"res{b.prefix}_relu")

    def unpool(self, x: str, u: arch.Unpool) -> str:
        """``unpool_as_conv``: A/B/C/D convs interleaved, BN, optional ReLU."""
        bn = u.bn if self.fuse else None
        a, b, c, d = (self.conv(x, spec, bn) for spec in u.convs)
        # DepthToSpace (DCR) takes channel group k = 2*row_offset + col_offset
        # to output (2i+row_offset, 2j+col_offset): groups [A, C, B, D] put
        # A at (2i,2j), C at (2i,2j+1), B at (2i+1,2j), D at (2i+1,2j+1).
        prefix = u.bn[: -len("_BN")]
        cat = self.g.node("Concat", [a, c, b, d], name=f"{prefix}_interleave_cat", axis=1)
        y = self.g.node("DepthToSpace", [cat], name=f"{prefix}_interleave", blocksize=2, mode="DCR")
        if not self.fuse:
            y = self.bn_node(y, u.bn)
        if u.relu:
            y = self.relu(y, f"{prefix}_ReLU")
        return y

    def up_projection(self, x: str, b: arch.UpProjection) -> str:
        y1 = self.conv(self.unpool(x, b.branch1), b.conv, b.bn)
        y2 = self.unpool(x, b.branch2)
        return self.relu(self.add(y1, y2, f"layer{b.id}_Sum"), f"layer{b.id}_ReLU")

    def build(self, width_div: int) -> str:
        x = INPUT_NAME
        for b in arch.blocks(width_div):
            if isinstance(b, arch.Stem):
                x = self.stem(x, b)
            elif isinstance(b, arch.Bottleneck):
                x = self.bottleneck(x, b)
            elif isinstance(b, arch.Layer1):
                x = self.conv(x, b.conv, b.bn)  # no ReLU after layer1_BN
            elif isinstance(b, arch.UpProjection):
                x = self.up_projection(x, b)
            elif isinstance(b, arch.Prediction):
                # ('drop' has keep_prob 1: identity) ConvPred, then ReLU.
                y = self.conv(x, b.conv, None)
                x = self.g.node("Relu", [y], name="ConvPred_relu", output=OUTPUT_NAME)
        return x


def build_fcrn(
    weights: dict,
    *,
    width_div: int = 1,
    fuse_bn: bool = True,
    fp16: bool = False,
    metadata: dict | None = None,
    graph_name: str = "fcrn_resnet50_upproj",
) -> onnx.ModelProto:
    """Build the ONNX model. ``weights`` must already be validated."""
    f = _FcrnGraph(weights, fuse_bn, fp16)
    f.build(width_div)
    inp = tensor_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, arch.INPUT_HEIGHT, arch.INPUT_WIDTH])
    out = tensor_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 1, arch.OUTPUT_HEIGHT, arch.OUTPUT_WIDTH])
    return f.g.model([inp], [out], graph_name, metadata)
