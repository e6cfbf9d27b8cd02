"""The models that the crate's tests and benchmarks run (``build-test-models``).

None of these is trained. The closed-form models compute an exact function of
the input pixels so a whole pipeline can be checked numerically; the broken
ones check that the crate (not ONNX Runtime) rejects unusable models.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from . import depth_anything, metadata
from .fcrn import build_fcrn
from .errors import ToolError
from .onnx_graph import GraphBuilder, save, save_external, tensor_info, with_coreml_cache_key
from .random_weights import random_fcrn_weights
from .weights import validate

CF_HEIGHT, CF_WIDTH = 256, 320
CF_OUT_HEIGHT, CF_OUT_WIDTH = 128, 160
LUMA = (0.02, 0.01, 0.005)
CLOSED_FORM_TEXT = "0.5 + avg2x2(0.02*R + 0.01*G + 0.005*B)"
INVERSE_TEXT = "0.1 + avg2x2((R + G + B) / 765)"
SMALL_WIDTH_DIV = 8
SMALL_INT8_NAME = "fcrn_random_small_int8.onnx"
# closed_form.onnx with its initializers in an external-data file beside it
EXTERNAL_NAME = "external/closed_form.onnx"
EXTERNAL_DATA_NAME = "external/closed_form.data"


def _cf_metadata(model: str, layout: str = "NCHW", units: str = "metres", formula: str = CLOSED_FORM_TEXT) -> dict:
    meta = metadata.make(
        model=model,
        input_layout=layout,
        input_width=CF_WIDTH,
        input_height=CF_HEIGHT,
        pixel_scale="1",
        pixel_mean="0,0,0",
        pixel_std="1,1,1",
        color_order="RGB",
        output_units=units,
        depth_min="0.5",
        depth_max="10",
        weights=metadata.CLOSED_FORM_TEXT,
        trained=False,
        precision="fp32",
    )
    meta[metadata.PREFIX + "closed_form"] = formula
    return meta


def _pixel_model(
    coeffs,
    offset: float,
    *,
    model: str,
    formula: str,
    units: str = "metres",
    layout: str = "NCHW",
    input_type: int = TensorProto.FLOAT,
    input_shape=None,
    output_shape=None,
    two_outputs: bool = False,
) -> onnx.ModelProto:
    """``offset + avg2x2(sum_c coeffs[c] * image[c])`` via Conv 1x1, AveragePool, Add."""
    g = GraphBuilder()
    x = "image"
    if input_type != TensorProto.FLOAT:
        x = g.node("Cast", [x], name="cast_to_float", to=TensorProto.FLOAT)
    if input_shape is not None and len(input_shape) == 3:
        x = g.node("Unsqueeze", [x, g.const("batch_axis", np.array([0], np.int64))], name="add_batch")
    if layout == "NHWC":
        x = g.node("Transpose", [x], name="nhwc_to_nchw", perm=[0, 3, 1, 2])
    w = g.weight("luma.weight", np.array(coeffs, np.float32).reshape(1, 3, 1, 1))
    y = g.node("Conv", [x, w], name="luma", kernel_shape=[1, 1])
    y = g.node("AveragePool", [y], name="avg2x2", kernel_shape=[2, 2], strides=[2, 2])
    g.node("Add", [y, g.weight("offset", np.array(offset, np.float32))], name="add_offset", output="depth")
    outputs = [tensor_info("depth", TensorProto.FLOAT, output_shape or [1, 1, CF_OUT_HEIGHT, CF_OUT_WIDTH])]
    if two_outputs:
        g.node("Identity", [y], name="second", output="luma_avg")
        outputs.append(tensor_info("luma_avg", TensorProto.FLOAT, output_shape or [1, 1, CF_OUT_HEIGHT, CF_OUT_WIDTH]))
    if input_shape is None:
        input_shape = [1, CF_HEIGHT, CF_WIDTH, 3] if layout == "NHWC" else [1, 3, CF_HEIGHT, CF_WIDTH]
    inputs = [tensor_info("image", input_type, input_shape)]
    meta = _cf_metadata(model, "NHWC" if layout == "NHWC" else "NCHW", units, formula)
    return g.model(inputs, outputs, model, meta)


def closed_form(layout: str = "NCHW") -> onnx.ModelProto:
    return _pixel_model(LUMA, 0.5, model="closed_form_luma", formula=CLOSED_FORM_TEXT, layout=layout)


def closed_form_dynamic_batch() -> onnx.ModelProto:
    """``closed_form`` with a symbolic batch dimension ``batch`` on input and
    output, as PyTorch's default export writes it."""
    return _pixel_model(LUMA, 0.5, model="closed_form_luma", formula=CLOSED_FORM_TEXT,
                        input_shape=["batch", 3, CF_HEIGHT, CF_WIDTH],
                        output_shape=["batch", 1, CF_OUT_HEIGHT, CF_OUT_WIDTH])


def closed_form_dynamic() -> onnx.ModelProto:
    """``closed_form`` with symbolic height and width (any even size; the
    output is half the input's), as dynamic-shape exports write them."""
    return _pixel_model(LUMA, 0.5, model="closed_form_luma", formula=CLOSED_FORM_TEXT,
                        input_shape=[1, 3, "height", "width"],
                        output_shape=[1, 1, "out_height", "out_width"])


def depth_anything_tiny(seed: int, layout: str, max_depth: float | None = None,
                        with_metadata: bool = False) -> onnx.ModelProto:
    """The Depth Anything V2 graph at :data:`depth_anything.TINY`'s sizes
    with seeded random weights, named as ``layout``'s published export;
    without the crate's metadata unless asked (the published files carry
    none)."""
    cfg = depth_anything.TINY
    meta = None
    if with_metadata:
        meta = depth_anything.crate_metadata(cfg, metadata.random_weights_text(seed), trained=False,
                                             max_depth=max_depth)
    weights = depth_anything.random_weights(cfg, seed, metric=max_depth is not None)
    return depth_anything.build(weights, cfg, layout, max_depth, meta)


def inverse_relative() -> onnx.ModelProto:
    return _pixel_model(
        (1 / 765, 1 / 765, 1 / 765), 0.1,
        model="closed_form_inverse_relative", formula=INVERSE_TEXT, units="inverse_relative",
    )


def broken_models() -> dict:
    """Valid ONNX (ONNX Runtime loads them) that the crate must reject."""
    cf = dict(model="closed_form_luma", formula=CLOSED_FORM_TEXT)
    return {
        "broken_rank.onnx": (
            _pixel_model(LUMA, 0.5, input_shape=[3, CF_HEIGHT, CF_WIDTH], **cf),
            "input has rank 3 ([3,256,320]) instead of 4",
        ),
        "broken_int_input.onnx": (
            _pixel_model(LUMA, 0.5, input_type=TensorProto.UINT8, **cf),
            "input is uint8 instead of float32",
        ),
        "broken_dynamic.onnx": (
            _pixel_model(LUMA, 0.5, input_shape=[1, "channels", "height", "width"],
                         output_shape=[1, 1, "out_height", "out_width"], **cf),
            "input channels, height and width are all dynamic (symbolic): no channel dimension of 3",
        ),
        "broken_huge_input.onnx": (
            _pixel_model(LUMA, 0.5, input_shape=[1, 3, 100_000, 100_000],
                         output_shape=[1, 1, 50_000, 50_000], **cf),
            "input declares 3×100000×100000 values (120 GB of floats)",
        ),
        "broken_two_outputs.onnx": (
            _pixel_model(LUMA, 0.5, two_outputs=True, **cf),
            "two outputs (depth and luma_avg) instead of one",
        ),
    }


def random_fcrn(seed: int, width_div: int = 1, fp16: bool = False, fuse_bn: bool = True) -> onnx.ModelProto:
    weights = validate(random_fcrn_weights(seed, width_div), width_div)
    meta = metadata.fcrn_metadata(metadata.random_weights_text(seed), trained=False,
                                  precision="fp16" if fp16 else "fp32")
    if width_div != 1:
        meta[metadata.PREFIX + "width_div"] = str(width_div)
    return build_fcrn(weights, width_div=width_div, fuse_bn=fuse_bn, fp16=fp16, metadata=meta)


def build_all(out_dir, log=print, only=None) -> dict:
    """Write every test model (or those named in ``only``) and ``manifest.json`` into ``out_dir``.

    ``only`` needs no sample recording unless it names the INT8 model, so a
    copy of the tools without the repository's assets can still write the
    others.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {}
    only = None if only is None else set(only)

    def wanted(name: str) -> bool:
        return only is None or name in only

    def put(name: str, model_or_bytes, description: str, external_data: str | None = None) -> None:
        if not wanted(name):
            return
        t = time.monotonic()
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(model_or_bytes, bytes):
            path.write_bytes(model_or_bytes)
        elif external_data is not None:
            save_external(model_or_bytes, path, external_data)
        else:
            save(model_or_bytes, path)
        manifest[name] = description
        log(f"  {name:36s} {path.stat().st_size / 1e6:9.2f} MB  {time.monotonic() - t:5.1f} s")

    if wanted("fcrn_random_full.onnx"):
        put("fcrn_random_full.onnx", random_fcrn(0),
            "full-size FCRN ResNet-50 up-projection, seeded random weights (seed 0), fp32, BN folded; "
            "for real-cost benchmarks, not a trained model")
    small = random_fcrn(1, SMALL_WIDTH_DIV)
    put("fcrn_random_small.onnx", small,
        f"FCRN topology with every width divided by {SMALL_WIDTH_DIV}, same 228x304 input and "
        "128x160 output, seeded random weights (seed 1), fp32; for fast tests")
    put("fcrn_random_small_fp16.onnx", random_fcrn(1, SMALL_WIDTH_DIV, fp16=True),
        "the small random FCRN with weights stored as float16 (Cast to float32 inside; float32 I/O)")
    # The small FCRN quantised as the INT8 bench model is (static QDQ),
    # calibrated on 2 sample frames: a model OpenVINO refuses to compile,
    # for the provider-fallback tests.
    if wanted(SMALL_INT8_NAME):
        from .bench_models import calibration_frames, frame_paths, quantize_int8
        t = time.monotonic()
        if not (out / "fcrn_random_small.onnx").is_file():
            save(small, out / "fcrn_random_small.onnx")
        quantize_int8(out / "fcrn_random_small.onnx", out / SMALL_INT8_NAME,
                      calibration_frames(frame_paths(count=2)),
                      source="2 frames of assets/samples/room, centre-cropped to 304x228")
        manifest[SMALL_INT8_NAME] = ("the small random FCRN quantised to INT8 (static QDQ, as the bench's INT8 "
                                     "model); OpenVINO's CPU plugin refuses to compile it")
        log(f"  {SMALL_INT8_NAME:36s} {(out / SMALL_INT8_NAME).stat().st_size / 1e6:9.2f} MB  "
            f"{time.monotonic() - t:5.1f} s")
    put("closed_form.onnx", closed_form("NCHW"),
        f"input image [1,3,256,320] NCHW RGB 0-255, depth[i,j] = {CLOSED_FORM_TEXT} in metres")
    put("closed_form_nhwc.onnx", closed_form("NHWC"),
        "same function as closed_form.onnx, input image [1,256,320,3] NHWC")
    put(EXTERNAL_NAME, closed_form("NCHW"),
        f"same model as closed_form.onnx saved with ONNX external data: every initializer in "
        f"{EXTERNAL_DATA_NAME} beside it (found relative to the model's path)",
        external_data=Path(EXTERNAL_DATA_NAME).name)
    put("closed_form_dynamic_batch.onnx", closed_form_dynamic_batch(),
        "same function as closed_form.onnx with a symbolic batch dimension (dim_param \"batch\", as "
        "PyTorch's default export writes): input image [batch,3,256,320], output depth [batch,1,128,160]")
    put("closed_form_dynamic.onnx", closed_form_dynamic(),
        "same function as closed_form.onnx with symbolic height and width: input image [1,3,height,width] "
        "(any even size), output depth [1,1,height/2,width/2]; mono_depth.input_width/height (320x256) are "
        "the reference size")
    tiny = depth_anything.TINY
    tiny_text = (f"Depth Anything V2 graph (DINOv2 ViT/14 encoder, DPT head) at test sizes ({tiny.embed_dim} wide, "
                 f"{tiny.depth} blocks, {tiny.heads} heads, {tiny.features} features), seeded random weights "
                 "(seed {seed}), input [batch,3,height,width] (multiples of 14, ImageNet-normalised 0-1 RGB)")
    put("depth_anything_v2_tiny.onnx", depth_anything_tiny(2, "pixel_values"),
        tiny_text.format(seed=2) + ", output predicted_depth [batch,height,width], relative inverse depth; "
        "names as onnx-community/depth-anything-v2-small; no mono_depth metadata, as published files have none")
    put("depth_anything_v2_tiny_image.onnx", depth_anything_tiny(2, "image"),
        tiny_text.format(seed=2) + ", the same weights named as fabio-sim/Depth-Anything-ONNX: input image, "
        "output depth; no mono_depth metadata")
    put("depth_anything_v2_tiny_metric.onnx", depth_anything_tiny(3, "image", max_depth=20.0, with_metadata=True),
        tiny_text.format(seed=3) + ", metric head (sigmoid x 20 m, as the indoor metric model), output depth "
        "[batch,height,width] in metres; with the mono_depth metadata fetch-model writes")
    put("inverse_relative.onnx", inverse_relative(),
        f"output_units inverse_relative: output[i,j] = {INVERSE_TEXT}, input [1,3,256,320] NCHW")
    for name, (model, why) in broken_models().items():
        put(name, model, f"broken: {why} (valid ONNX; the crate must reject it)")
    data = with_coreml_cache_key(small).SerializeToString()
    put("broken_truncated.onnx", data[: len(data) // 2],
        "broken: the first half of fcrn_random_small.onnx's bytes (not a parseable model)")
    put("broken_not_onnx.onnx", b"this is a text file, not an ONNX protobuf\n",
        "broken: a text file, not ONNX at all")
    if only is not None and only - set(manifest):
        raise ToolError(f"no test model named {', '.join(sorted(only - set(manifest)))} "
                        "(the names are those a full build lists in manifest.json)")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"  manifest.json ({len(manifest)} models)")
    return manifest
