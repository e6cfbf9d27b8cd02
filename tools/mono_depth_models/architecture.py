"""The FCRN ResNet-50 up-projection topology, as data.

Mirrors ``ResNet50UpProj.setup`` and ``Network.up_project`` in the authors'
TensorFlow code (iro-cp/FCRN-DepthPrediction, ``tensorflow/models``):

* Caffe-style ResNet-50: the stride 2 of stages 3-5 sits on the 1x1
  ``branch2a`` and on the 1x1 ``branch1`` projection, not on the 3x3.
* Their ``conv(..., padding='SAME')`` pads explicitly by ``(k-1)//2`` on every
  side and then runs a VALID convolution, so a 7x7 stride-2 conv pads 3/3.
* ``pool1`` is TensorFlow's own SAME max-pool: on 114x152 that pads 0 before
  and 1 after in both axes (ONNX ``pads=[0,0,1,1]``).
* ``conv1``, ``layer1``, every up-projection conv and ``ConvPred`` have biases;
  the ResNet body convs do not.
* Up-projection: four convs A 3x3, B 2x3, C 3x2, D 2x2 on differently padded
  copies of the input, interleaved so that output (2i,2j)=A, (2i+1,2j)=B,
  (2i,2j+1)=C, (2i+1,2j+1)=D, then one batch-norm over the result.
* Batch-norm epsilon is 1e-4; ``ConvPred`` ends with a ReLU.

Every channel count can be divided by ``width_div`` to get a reduced-width
network with the same topology, input and output size (used by fast tests).
"""

from __future__ import annotations

from dataclasses import dataclass

BN_EPSILON = 1e-4
INPUT_HEIGHT = 228
INPUT_WIDTH = 304
OUTPUT_HEIGHT = 128
OUTPUT_WIDTH = 160

BN_PARAMS = ("scale", "offset", "mean", "variance")

# (stage number, block letters, bottleneck width, output width, stride)
RESNET_STAGES = (
    (2, "abc", 64, 256, 1),
    (3, "abcd", 128, 512, 2),
    (4, "abcdef", 256, 1024, 2),
    (5, "abc", 512, 2048, 2),
)
# (id, input channels, output channels) of the four up-projection blocks
UP_PROJECTIONS = (("2x", 1024, 512), ("4x", 512, 256), ("8x", 256, 128), ("16x", 128, 64))

# Padding (top, left, bottom, right) of the four unpooling convs, as the
# authors' tf.pad calls in ``unpool_as_conv`` (A uses their 'SAME' = 1 all round).
UNPOOL_KERNELS = {
    "A": ((3, 3), (1, 1, 1, 1)),
    "B": ((2, 3), (1, 1, 0, 1)),
    "C": ((3, 2), (1, 1, 1, 0)),
    "D": ((2, 2), (1, 1, 0, 0)),
}


@dataclass(frozen=True)
class ConvSpec:
    """One convolution layer of the official weight file."""

    name: str
    kh: int
    kw: int
    cin: int
    cout: int
    stride: int = 1
    pads: tuple = (0, 0, 0, 0)  # top, left, bottom, right
    bias: bool = False

    @property
    def weight_shape(self) -> tuple:
        """Shape in the .npy file: HWIO."""
        return (self.kh, self.kw, self.cin, self.cout)


@dataclass(frozen=True)
class Stem:
    conv: ConvSpec
    bn: str


@dataclass(frozen=True)
class Bottleneck:
    """res{stage}{letter}: optional projection branch1 + branch2a/2b/2c."""

    prefix: str  # e.g. "2a"
    branch1: ConvSpec | None
    branch2: tuple  # three ConvSpec

    def bn_name(self, conv: ConvSpec) -> str:
        return "bn" + conv.name[len("res"):]


@dataclass(frozen=True)
class Layer1:
    conv: ConvSpec
    bn: str


@dataclass(frozen=True)
class Unpool:
    """``unpool_as_conv``: convs A, B, C, D then one BN over the interleave."""

    convs: tuple  # ConvSpec for A, B, C, D in that order
    bn: str
    relu: bool


@dataclass(frozen=True)
class UpProjection:
    id: str
    branch1: Unpool
    conv: ConvSpec
    bn: str
    branch2: Unpool


@dataclass(frozen=True)
class Prediction:
    conv: ConvSpec  # followed by ReLU


def _w(channels: int, width_div: int) -> int:
    if channels % width_div:
        raise ValueError(f"width divisor {width_div} does not divide {channels}")
    return channels // width_div


def _unpool(prefix: str, cin: int, cout: int, relu: bool) -> Unpool:
    convs = tuple(
        ConvSpec(f"layer{prefix}_Conv{k}", kh, kw, cin, cout, 1, pads, bias=True)
        for k, ((kh, kw), pads) in UNPOOL_KERNELS.items()
    )
    return Unpool(convs, f"layer{prefix}_BN", relu)


def blocks(width_div: int = 1) -> list:
    """The network as an ordered list of blocks (see module docs)."""
    out: list = []
    c64 = _w(64, width_div)
    out.append(Stem(ConvSpec("conv1", 7, 7, 3, c64, 2, (3, 3, 3, 3), bias=True), "bn_conv1"))
    cin = c64
    for stage, letters, mid, cout, stride in RESNET_STAGES:
        mid, cout = _w(mid, width_div), _w(cout, width_div)
        for i, letter in enumerate(letters):
            s = stride if i == 0 else 1
            p = f"{stage}{letter}"
            branch1 = ConvSpec(f"res{p}_branch1", 1, 1, cin, cout, s) if i == 0 else None
            branch2 = (
                ConvSpec(f"res{p}_branch2a", 1, 1, cin, mid, s),
                ConvSpec(f"res{p}_branch2b", 3, 3, mid, mid, 1, (1, 1, 1, 1)),
                ConvSpec(f"res{p}_branch2c", 1, 1, mid, cout, 1),
            )
            out.append(Bottleneck(p, branch1, branch2))
            cin = cout
    c1024 = _w(1024, width_div)
    out.append(Layer1(ConvSpec("layer1", 1, 1, cin, c1024, 1, bias=True), "layer1_BN"))
    for uid, ci, co in UP_PROJECTIONS:
        ci, co = _w(ci, width_div), _w(co, width_div)
        out.append(
            UpProjection(
                uid,
                _unpool(f"{uid}_br1", ci, co, relu=True),
                ConvSpec(f"layer{uid}_Conv", 3, 3, co, co, 1, (1, 1, 1, 1), bias=True),
                f"layer{uid}_BN",
                _unpool(f"{uid}_br2", ci, co, relu=False),
            )
        )
    out.append(Prediction(ConvSpec("ConvPred", 3, 3, _w(64, width_div), 1, 1, (1, 1, 1, 1), bias=True)))
    return out


def conv_bn_pairs(width_div: int = 1):
    """Yield ``(ConvSpec, bn_name_or_None)`` for every conv, in graph order.

    For the unpooling convs the BN name is the shared one of their ``Unpool``.
    """
    for b in blocks(width_div):
        if isinstance(b, (Stem, Layer1)):
            yield b.conv, b.bn
        elif isinstance(b, Bottleneck):
            if b.branch1 is not None:
                yield b.branch1, b.bn_name(b.branch1)
            for c in b.branch2:
                yield c, b.bn_name(c)
        elif isinstance(b, UpProjection):
            for c in b.branch1.convs:
                yield c, b.branch1.bn
            yield b.conv, b.bn
            for c in b.branch2.convs:
                yield c, b.branch2.bn
        elif isinstance(b, Prediction):
            yield b.conv, None


def expected_params(width_div: int = 1) -> dict:
    """``{layer: {param: shape}}`` exactly as in ``NYU_ResNet-UpProj.npy``."""
    out: dict = {}
    for conv, bn in conv_bn_pairs(width_div):
        out[conv.name] = {"weights": conv.weight_shape}
        if conv.bias:
            out[conv.name]["biases"] = (conv.cout,)
        if bn is not None and bn not in out:
            out[bn] = {p: (conv.cout,) for p in BN_PARAMS}
    return out
