"""Depth Anything V2 as ONNX: a DINOv2 ViT encoder and a DPT head, built
node by node from a ``{name: array}`` weight dict named as in the reference
state dict (``pretrained.blocks.0.attn.qkv.weight``,
``depth_head.scratch.refinenet1.out_conv.bias``, ...).

The graph takes any height and width that are multiples of the patch size
(14), as the published dynamic-shape exports do: the position embedding
(trained on a 37 x 37 grid, 518 px) is resized bicubically to the frame's
patch grid at run time, the fusion blocks resize to their neighbour's size,
and the output comes back at the input's size. Relative models end in
ReLU (inverse depth up to a scale and shift per image); metric ones in a
sigmoid times the maximum depth (metres).

Only seeded random weights are made here (:func:`random_weights`): test
models with the real architecture and its cost, never depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from .onnx_graph import GraphBuilder, tensor_info

PATCH = 14
LN_EPSILON = 1e-6
# The offset DINOv2 adds to the patch grid before computing the position
# embedding's resize factor (its ``interpolate_offset``).
POS_OFFSET = 0.1
# ImageNet statistics the reference preprocessing normalises with (RGB, 0-1).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRAINED_SIZE = 518


@dataclass(frozen=True)
class Config:
    """Sizes of one Depth Anything V2 variant."""

    name: str
    embed_dim: int
    depth: int
    heads: int
    layers: tuple  # the blocks whose outputs feed the head
    features: int
    out_channels: tuple
    head_features_2: int = 32
    mlp_ratio: int = 4
    pos_grid: int = TRAINED_SIZE // PATCH

    @property
    def hidden(self) -> int:
        return self.embed_dim * self.mlp_ratio


#: Depth Anything V2 Small: DINOv2 ViT-S/14 (384 wide, 6 heads, 12 blocks,
#: features from blocks 2, 5, 8, 11) and the DPT head with 64 features.
SMALL = Config("vits", embed_dim=384, depth=12, heads=6, layers=(2, 5, 8, 11),
               features=64, out_channels=(48, 96, 192, 384))
#: The same graph at a fraction of the width and depth, for fast tests.
TINY = Config("tiny", embed_dim=48, depth=4, heads=2, layers=(0, 1, 2, 3),
              features=16, out_channels=(8, 16, 24, 48), head_features_2=8)

#: The two published input/output namings: (input, output, batch dimension).
LAYOUTS = {
    # onnx-community/depth-anything-v2-small (Hugging Face transformers export)
    "pixel_values": ("pixel_values", "predicted_depth", "batch_size"),
    # fabio-sim/Depth-Anything-ONNX
    "image": ("image", "depth", "batch"),
}


def _block_shapes(cfg: Config, i: int) -> dict:
    c, h = cfg.embed_dim, cfg.hidden
    p = f"pretrained.blocks.{i}."
    return {
        p + "norm1.weight": (c,), p + "norm1.bias": (c,),
        p + "attn.qkv.weight": (3 * c, c), p + "attn.qkv.bias": (3 * c,),
        p + "attn.proj.weight": (c, c), p + "attn.proj.bias": (c,),
        p + "ls1.gamma": (c,),
        p + "norm2.weight": (c,), p + "norm2.bias": (c,),
        p + "mlp.fc1.weight": (h, c), p + "mlp.fc1.bias": (h,),
        p + "mlp.fc2.weight": (c, h), p + "mlp.fc2.bias": (c,),
        p + "ls2.gamma": (c,),
    }


def _head_shapes(cfg: Config) -> dict:
    c, f, oc = cfg.embed_dim, cfg.features, cfg.out_channels
    d = "depth_head."
    s = {}
    for i, o in enumerate(oc):
        s[f"{d}projects.{i}.weight"] = (o, c, 1, 1)
        s[f"{d}projects.{i}.bias"] = (o,)
    # ConvTranspose weights are (in, out, kh, kw)
    s[f"{d}resize_layers.0.weight"] = (oc[0], oc[0], 4, 4)
    s[f"{d}resize_layers.0.bias"] = (oc[0],)
    s[f"{d}resize_layers.1.weight"] = (oc[1], oc[1], 2, 2)
    s[f"{d}resize_layers.1.bias"] = (oc[1],)
    s[f"{d}resize_layers.3.weight"] = (oc[3], oc[3], 3, 3)
    s[f"{d}resize_layers.3.bias"] = (oc[3],)
    for i, o in enumerate(oc):
        s[f"{d}scratch.layer{i + 1}_rn.weight"] = (f, o, 3, 3)
    for r in range(1, 5):
        p = f"{d}scratch.refinenet{r}."
        s[p + "out_conv.weight"] = (f, f, 1, 1)
        s[p + "out_conv.bias"] = (f,)
        for unit in (1, 2):
            for conv in (1, 2):
                s[f"{p}resConfUnit{unit}.conv{conv}.weight"] = (f, f, 3, 3)
                s[f"{p}resConfUnit{unit}.conv{conv}.bias"] = (f,)
    s[f"{d}scratch.output_conv1.weight"] = (f // 2, f, 3, 3)
    s[f"{d}scratch.output_conv1.bias"] = (f // 2,)
    s[f"{d}scratch.output_conv2.0.weight"] = (cfg.head_features_2, f // 2, 3, 3)
    s[f"{d}scratch.output_conv2.0.bias"] = (cfg.head_features_2,)
    s[f"{d}scratch.output_conv2.2.weight"] = (1, cfg.head_features_2, 1, 1)
    s[f"{d}scratch.output_conv2.2.bias"] = (1,)
    return s


def parameter_shapes(cfg: Config) -> dict:
    """Every parameter of the reference model and its shape (``mask_token``
    included: it is a parameter, though inference never reads it)."""
    c = cfg.embed_dim
    shapes = {
        "pretrained.cls_token": (1, 1, c),
        "pretrained.pos_embed": (1, 1 + cfg.pos_grid ** 2, c),
        "pretrained.mask_token": (1, c),
        "pretrained.patch_embed.proj.weight": (c, 3, PATCH, PATCH),
        "pretrained.patch_embed.proj.bias": (c,),
    }
    for i in range(cfg.depth):
        shapes.update(_block_shapes(cfg, i))
    shapes["pretrained.norm.weight"] = (c,)
    shapes["pretrained.norm.bias"] = (c,)
    shapes.update(_head_shapes(cfg))
    return shapes


def parameter_count(cfg: Config) -> int:
    return sum(int(np.prod(s)) for s in parameter_shapes(cfg).values())


def random_weights(cfg: Config, seed: int, metric: bool = False) -> dict:
    """Seeded random weights in the reference layout; not a trained model.

    Linear layers and embeddings are drawn as DINOv2 initialises them
    (normal, std 0.02; the class token near zero), norms near 1, layer
    scales between 0.05 and 0.2 (trained ViT-S values are of that order),
    convolutions He-normal. The last convolution's weights are made
    positive and its bias small, so the output is positive and varies over
    the image instead of being cut to zero by the final ReLU. For a
    ``metric`` head (a sigmoid follows) they are signed and small, so the
    sigmoid is not saturated and the metres spread over the range.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in parameter_shapes(cfg).items():
        leaf = name.rsplit(".", 1)[-1]
        if name == "pretrained.mask_token":
            w = np.zeros(shape)
        elif name == "pretrained.cls_token":
            w = rng.normal(0, 1e-6, shape)
        elif name == "pretrained.pos_embed":
            w = rng.normal(0, 0.02, shape)
        elif leaf == "gamma":
            w = rng.uniform(0.05, 0.2, shape)
        elif ".norm" in name or name.startswith("pretrained.norm"):
            w = (1 + rng.normal(0, 0.02, shape)) if leaf == "weight" else rng.normal(0, 0.02, shape)
        elif name.startswith("pretrained.blocks") and leaf == "weight":
            w = rng.normal(0, 0.02, shape)
        elif leaf == "bias":
            w = rng.normal(0, 0.01, shape)
        elif name == "pretrained.patch_embed.proj.weight":
            w = rng.normal(0, (1 / (3 * PATCH * PATCH)) ** 0.5, shape)
        elif name.endswith("output_conv2.2.weight"):
            w = rng.normal(0, (1 / shape[1]) ** 0.5, shape)
            w = 0.03 * w if metric else np.abs(w)
        elif "resize_layers.0" in name or "resize_layers.1" in name:
            w = rng.normal(0, (2 / shape[0]) ** 0.5, shape)  # kernel = stride: fan-in is the channels
        else:
            w = rng.normal(0, (2 / int(np.prod(shape[1:]))) ** 0.5, shape)
        out[name] = np.asarray(w, np.float32)
    out["depth_head.scratch.output_conv2.2.bias"] = np.full((1,), 0.0 if metric else 0.05, np.float32)
    return out


class _Graph:
    def __init__(self, weights: dict, cfg: Config):
        self.w = weights
        self.cfg = cfg
        self.g = GraphBuilder()

    def n(self, op, inputs, name=None, **attrs):
        return self.g.node(op, inputs, name=name, **attrs)

    def ints(self, name, values):
        return self.g.const(name, np.array(values, np.int64))

    def weight(self, name, transform=None):
        array = self.w[name]
        return self.g.weight(name, array if transform is None else transform(array))

    def linear(self, x, name):
        # y = x W^T + b; the weight is stored transposed for MatMul
        w = self.weight(name + ".weight", lambda a: np.ascontiguousarray(a.T))
        return self.n("Add", [self.n("MatMul", [x, w], name=name), self.weight(name + ".bias")], name=name + ".add")

    def layer_norm(self, x, name):
        return self.n("LayerNormalization", [x, self.weight(name + ".weight"), self.weight(name + ".bias")],
                      name=name, axis=-1, epsilon=LN_EPSILON)

    def conv(self, x, name, k, stride=1, pad=0, bias=True):
        inputs = [x, self.weight(name + ".weight")]
        if bias:
            inputs.append(self.weight(name + ".bias"))
        return self.n("Conv", inputs, name=name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def conv_transpose(self, x, name, k):
        return self.n("ConvTranspose", [x, self.weight(name + ".weight"), self.weight(name + ".bias")],
                      name=name, kernel_shape=[k, k], strides=[k, k])

    def relu(self, x, name):
        return self.n("Relu", [x], name=name)

    def shape(self, x, name, start, end):
        return self.n("Shape", [x], name=name, start=start, end=end)

    def resize_bilinear(self, x, sizes_hw=None, scale=None, name="resize"):
        """Bilinear with corners aligned (the DPT head's interpolation), to
        ``sizes_hw`` (an int64 [h, w] value) or by ``scale``."""
        attrs = dict(mode="linear", coordinate_transformation_mode="align_corners")
        if scale is not None:
            scales = self.g.const(name + ".scales", np.array([1, 1, scale, scale], np.float32))
            return self.n("Resize", [x, "", scales], name=name, **attrs)
        sizes = self.n("Concat", [self.shape(x, name + ".nc", 0, 2), sizes_hw], name=name + ".sizes", axis=0)
        return self.n("Resize", [x, "", "", sizes], name=name, **attrs)

    # -- encoder ------------------------------------------------------------
    def tokens(self, image):
        """Patch embedding, class token and the resized position embedding:
        returns (tokens [B, 1 + N, C], the patch grid's shape [B, C, ph, pw])."""
        cfg, c = self.cfg, self.cfg.embed_dim
        patches = self.conv(image, "pretrained.patch_embed.proj", PATCH, stride=PATCH)
        grid_shape = self.n("Shape", [patches], name="grid_shape")
        flat = self.n("Reshape", [patches, self.ints("flat_shape", [0, 0, -1])], name="patches_flat")
        flat = self.n("Transpose", [flat], name="patch_tokens", perm=[0, 2, 1])
        cls_shape = self.n("Concat", [self.shape(patches, "batch", 0, 1), self.ints("one_c", [1, c])],
                           name="cls_shape", axis=0)
        cls = self.n("Expand", [self.weight("pretrained.cls_token"), cls_shape], name="cls")
        x = self.n("Concat", [cls, flat], name="with_cls", axis=1)

        pos = self.weight("pretrained.pos_embed")
        m = cfg.pos_grid
        cls_pos = self.n("Slice", [pos, self.ints("p0", [0]), self.ints("p1", [1]), self.ints("pax", [1])],
                         name="cls_pos")
        grid = self.n("Slice", [pos, self.ints("g0", [1]), self.ints("g1", [1 + m * m]), self.ints("gax", [1])],
                      name="patch_pos")
        grid = self.n("Reshape", [grid, self.ints("grid_hw", [1, m, m, c])], name="patch_pos_grid")
        grid = self.n("Transpose", [grid], name="patch_pos_nchw", perm=[0, 3, 1, 2])
        # scale = (patches + 0.1) / 37 per axis, as DINOv2 computes it
        hw = self.n("Cast", [self.shape(patches, "grid_hw_now", 2, 4)], name="grid_hw_float", to=TensorProto.FLOAT)
        factor = self.n("Div", [self.n("Add", [hw, self.g.const("offset", np.array(POS_OFFSET, np.float32))],
                                       name="grid_plus_offset"),
                                self.g.const("trained_grid", np.array(m, np.float32))], name="pos_factor")
        scales = self.n("Concat", [self.g.const("unit_scales", np.ones(2, np.float32)), factor],
                        name="pos_scales", axis=0)
        grid = self.n("Resize", [grid, "", scales], name="pos_resize", mode="cubic", cubic_coeff_a=-0.75,
                      coordinate_transformation_mode="half_pixel")
        grid = self.n("Reshape", [grid, self.ints("pos_flat_shape", [1, c, -1])], name="pos_flat")
        grid = self.n("Transpose", [grid], name="pos_tokens", perm=[0, 2, 1])
        pos_now = self.n("Concat", [cls_pos, grid], name="pos_now", axis=1)
        return self.n("Add", [x, pos_now], name="tokens"), grid_shape

    def block(self, x, i):
        cfg = self.cfg
        c, heads = cfg.embed_dim, cfg.heads
        p = f"pretrained.blocks.{i}."
        y = self.layer_norm(x, p + "norm1")
        qkv = self.linear(y, p + "attn.qkv")
        qkv = self.n("Reshape", [qkv, self.ints(p + "qkv_shape", [0, 0, 3, heads, c // heads])], name=p + "qkv_split")
        qkv = self.n("Transpose", [qkv], name=p + "qkv_heads", perm=[2, 0, 3, 1, 4])
        q, k, v = (self.n("Gather", [qkv, self.ints(p + f"i{j}", j)], name=p + n, axis=0)
                   for j, n in enumerate("qkv"))
        q = self.n("Mul", [q, self.g.const(p + "scale", np.array((c // heads) ** -0.5, np.float32))], name=p + "q_scaled")
        kt = self.n("Transpose", [k], name=p + "k_t", perm=[0, 1, 3, 2])
        att = self.n("Softmax", [self.n("MatMul", [q, kt], name=p + "logits")], name=p + "attention", axis=-1)
        y = self.n("MatMul", [att, v], name=p + "attended")
        y = self.n("Transpose", [y], name=p + "attended_t", perm=[0, 2, 1, 3])
        y = self.n("Reshape", [y, self.ints(p + "merge_shape", [0, 0, c])], name=p + "merged")
        y = self.linear(y, p + "attn.proj")
        x = self.n("Add", [x, self.n("Mul", [y, self.weight(p + "ls1.gamma")], name=p + "ls1")], name=p + "res1")
        y = self.linear(self.layer_norm(x, p + "norm2"), p + "mlp.fc1")
        # exact GELU: 0.5 x (1 + erf(x / sqrt 2))
        erf = self.n("Erf", [self.n("Div", [y, self.g.const(p + "sqrt2", np.array(2 ** 0.5, np.float32))],
                                    name=p + "gelu_div")], name=p + "gelu_erf")
        gate = self.n("Add", [erf, self.g.const(p + "one", np.array(1, np.float32))], name=p + "gelu_add")
        y = self.n("Mul", [self.n("Mul", [y, gate], name=p + "gelu_mul"),
                           self.g.const(p + "half", np.array(0.5, np.float32))], name=p + "gelu")
        y = self.linear(y, p + "mlp.fc2")
        return self.n("Add", [x, self.n("Mul", [y, self.weight(p + "ls2.gamma")], name=p + "ls2")], name=p + "res2")

    def feature(self, x, grid_shape, i):
        """A block's output normed, without the class token, as a [B, C, ph, pw] map."""
        y = self.layer_norm(x, "pretrained.norm") if i == 0 else self.n(
            "LayerNormalization", [x, "pretrained.norm.weight", "pretrained.norm.bias"],
            name=f"feature{i}.norm", axis=-1, epsilon=LN_EPSILON)
        y = self.n("Slice", [y, self.ints(f"f{i}s", [1]), self.ints(f"f{i}e", [2 ** 62]), self.ints(f"f{i}a", [1])],
                   name=f"feature{i}.patches")
        y = self.n("Transpose", [y], name=f"feature{i}.channels", perm=[0, 2, 1])
        return self.n("Reshape", [y, grid_shape], name=f"feature{i}")

    # -- head ---------------------------------------------------------------
    def rcu(self, x, name):
        y = self.conv(self.relu(x, name + ".relu1"), name + ".conv1", 3, pad=1)
        y = self.conv(self.relu(y, name + ".relu2"), name + ".conv2", 3, pad=1)
        return self.n("Add", [y, x], name=name + ".add")

    def fusion(self, r, x, skip=None, like=None):
        p = f"depth_head.scratch.refinenet{r}"
        if skip is not None:
            x = self.n("Add", [x, self.rcu(skip, p + ".resConfUnit1")], name=p + ".skip_add")
        x = self.rcu(x, p + ".resConfUnit2")
        if like is None:
            x = self.resize_bilinear(x, scale=2.0, name=p + ".up")
        else:
            x = self.resize_bilinear(x, sizes_hw=self.shape(like, p + ".like_hw", 2, 4), name=p + ".up")
        return self.conv(x, p + ".out_conv", 1)

    def head(self, features, grid_shape, max_depth):
        d = "depth_head."
        maps = []
        for i, x in enumerate(features):
            x = self.conv(x, f"{d}projects.{i}", 1)
            if i in (0, 1):
                x = self.conv_transpose(x, f"{d}resize_layers.{i}", 4 if i == 0 else 2)
            elif i == 3:
                x = self.conv(x, f"{d}resize_layers.3", 3, stride=2, pad=1)
            maps.append(self.conv(x, f"{d}scratch.layer{i + 1}_rn", 3, pad=1, bias=False))
        l1, l2, l3, l4 = maps
        path = self.fusion(4, l4, like=l3)
        path = self.fusion(3, path, skip=l3, like=l2)
        path = self.fusion(2, path, skip=l2, like=l1)
        path = self.fusion(1, path, skip=l1)
        out = self.conv(path, f"{d}scratch.output_conv1", 3, pad=1)
        grid_hw = self.n("Slice", [grid_shape, self.ints("hw0", [2]), self.ints("hw1", [4])], name="out_grid")
        size = self.n("Mul", [grid_hw, self.ints("patch", [PATCH])], name="out_hw")
        out = self.resize_bilinear(out, sizes_hw=size, name=f"{d}scratch.up_to_input")
        out = self.relu(self.conv(out, f"{d}scratch.output_conv2.0", 3, pad=1), "output_conv2.relu")
        out = self.conv(out, f"{d}scratch.output_conv2.2", 1)
        if max_depth is None:
            out = self.relu(out, "output_conv2.relu_out")
        else:
            out = self.n("Mul", [self.n("Sigmoid", [out], name="output_conv2.sigmoid"),
                                 self.g.const("max_depth", np.array(max_depth, np.float32))], name="metric")
        return out


def build(weights: dict, cfg: Config = SMALL, layout: str = "pixel_values", max_depth: float | None = None,
          metadata: dict | None = None) -> onnx.ModelProto:
    """The ONNX graph: input ``[batch, 3, height, width]`` (RGB, ImageNet-
    normalised, both sides multiples of 14), output ``[batch, height, width]``
    (relative inverse depth, or metres for ``max_depth``), names as in
    ``LAYOUTS[layout]``."""
    in_name, out_name, batch = LAYOUTS[layout]
    gr = _Graph(weights, cfg)
    x, grid_shape = gr.tokens(in_name)
    features = []
    for i in range(cfg.depth):
        x = gr.block(x, i)
        if i in cfg.layers:
            features.append(gr.feature(x, grid_shape, len(features)))
    depth = gr.head(features, grid_shape, max_depth)
    if max_depth is None:
        depth = gr.relu(depth, "final_relu")  # the reference model applies F.relu once more
    gr.g.node("Squeeze", [depth, gr.ints("channel_axis", [1])], name="squeeze", output=out_name)
    inputs = [tensor_info(in_name, TensorProto.FLOAT, [batch, 3, "height", "width"])]
    outputs = [tensor_info(out_name, TensorProto.FLOAT, [batch, "height", "width"])]
    return gr.g.model(inputs, outputs, f"depth_anything_v2_{cfg.name}", metadata)


def weight_count(model: onnx.ModelProto, cfg: Config) -> int:
    """Values stored in the model's initializers that are reference
    parameters (constants the graph adds, such as the attention scale, are
    not counted)."""
    names = set(parameter_shapes(cfg))
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name in names)


def crate_metadata(cfg: Config, weights: str, trained: bool, max_depth: float | None = None,
                   model: str | None = None, precision: str = "fp32") -> dict:
    """The ``mono_depth.*`` keys for a Depth Anything V2 file: ImageNet
    normalisation of 0-1 RGB, dynamic input whose long side is 518 and both
    sides multiples of 14, and either relative inverse depth (aligned per
    frame from anchors) or metres up to ``max_depth``."""
    from . import metadata

    relative = max_depth is None
    return metadata.make(
        model=model or f"depth_anything_v2_{cfg.name}" + ("" if relative else "_metric"),
        input_layout="NCHW",
        input_width=TRAINED_SIZE,
        input_height=TRAINED_SIZE,
        input_multiple=PATCH,
        input_long_side=TRAINED_SIZE,
        pixel_scale=repr(1 / 255),
        pixel_mean=",".join(map(str, IMAGENET_MEAN)),
        pixel_std=",".join(map(str, IMAGENET_STD)),
        color_order="RGB",
        output_units="affine_inverse" if relative else "metres",
        depth_min="0.1",
        depth_max=str(80.0 if relative else float(max_depth)),
        weights=weights,
        trained=trained,
        precision=precision,
    )
