"""``bench-models``: FP16 and INT8 variants of the random full FCRN for benchmarks.

Writes into ``DEST``:

- ``fcrn_random_full_fp16.onnx``: the same network and seed (0) as
  ``fcrn_random_full.onnx`` (``test_models.random_fcrn(0, fp16=True)``):
  weights stored as float16 followed by a ``Cast``, float32 input and output,
  ``mono_depth.precision = fp16``.
- ``fcrn_random_full_int8.onnx``: ONNX Runtime static quantisation of the FP32
  model (see :func:`quantize_int8` for the settings), calibrated on frames of
  the sample recording ``assets/samples/room`` (see :func:`calibration_frames`).
  Input and output keep their names and stay float32 (a ``QuantizeLinear``
  after the input and a ``DequantizeLinear`` before the output), so the crate
  loads it unchanged; the ``mono_depth.*`` metadata is the FP32 model's with
  ``precision = int8``.

A file is rebuilt only when it is missing or older than one of its inputs (the
tool's own sources, and for INT8 also the FP32 model and the calibration
frames); otherwise it is reported as ``(present)``. Both outputs are
deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from . import metadata
from .architecture import INPUT_HEIGHT, INPUT_WIDTH
from .errors import ToolError
from .onnx_graph import IR_VERSION, save

FP16_NAME = "fcrn_random_full_fp16.onnx"
INT8_NAME = "fcrn_random_full_int8.onnx"
FP32_NAME = "fcrn_random_full.onnx"
FULL_SEED = 0
# Depth Anything V2 Small (the full architecture), seeded random weights, and
# its INT8 file (dynamic quantisation of the MatMuls, as published INT8
# exports of ViTs are made).
DA_FP32_NAME = "depth_anything_v2_small_random.onnx"
DA_INT8_NAME = "depth_anything_v2_small_random_int8.onnx"
DA_SEED = 0
DA_QUANTIZATION_TEXT = ("onnxruntime {ort} quantize_dynamic: MatMul weights int8 per-channel, "
                        "activations quantised per run (the DPT head's convolutions stay fp32)")

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FRAMES = REPO_ROOT / "assets" / "samples" / "room" / "rgb"
CALIBRATION_COUNT = 8

QUANTIZATION_TEXT = (
    "onnxruntime {ort} quantize_static: QDQ, int8 symmetric per-channel weights (7-bit range), "
    "uint8 asymmetric per-tensor activations, MinMax calibration on {n} frames of {src}"
)


def png_rgb(path) -> np.ndarray:
    """An image file as an ``(H, W, 3)`` uint8 RGB array (Pillow, imported here only)."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def centre_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centred ``width`` x ``height`` window of an ``(H, W, C)`` image (no resizing)."""
    h, w = rgb.shape[:2]
    if w < width or h < height:
        raise ToolError(f"frame {w}x{h} is smaller than the model input {width}x{height}")
    top, left = (h - height) // 2, (w - width) // 2
    return rgb[top:top + height, left:left + width]


def frame_paths(folder=SAMPLE_FRAMES, count: int = CALIBRATION_COUNT) -> list:
    """``count`` PNGs spread evenly over the sorted ``folder`` (every 3rd of 24: 1, 4, ..., 22)."""
    files = sorted(Path(folder).glob("*.png"))
    if len(files) < count:
        raise ToolError(f"{folder}: {len(files)} PNG frames, need {count} for calibration")
    step = len(files) // count
    return files[: step * count: step]


def calibration_frames(paths, width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT) -> list:
    """Each image centre-cropped to ``width`` x ``height`` as a ``[1,3,H,W]`` float32 0-255 RGB tensor."""
    out = []
    for p in paths:
        crop = centre_crop(png_rgb(p), width, height)
        out.append(np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32))
    return out


def _io(model: onnx.ModelProto) -> list:
    """(name, elem_type) of every graph input and output."""
    return [(v.name, v.type.tensor_type.elem_type) for v in list(model.graph.input) + list(model.graph.output)]


class _Frames:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over a fixed list of tensors."""

    def __init__(self, input_name: str, frames: list):
        self.input_name = input_name
        self.frames = list(frames)
        self.i = 0

    def get_next(self):
        if self.i >= len(self.frames):
            return None
        self.i += 1
        return {self.input_name: self.frames[self.i - 1]}

    def rewind(self):
        self.i = 0


def quantize_int8(fp32_path, out_path, frames: list, source: str = "the given frames") -> onnx.ModelProto:
    """Static INT8 quantisation of an FCRN-like model (one float32 input, one float32 output).

    Settings (ONNX Runtime's recommended CPU configuration for a CNN):
    ``quant_pre_process`` first (ONNX shape inference and ORT's basic graph
    optimisations; symbolic shape inference is skipped: every shape is static
    and it would need sympy), then ``quantize_static`` with
    ``quant_format=QDQ``, ``weight_type=QInt8`` with ``per_channel=True``
    (symmetric, one scale per output channel), ``activation_type=QUInt8``
    (asymmetric, one scale and zero point per tensor), ``reduce_range=True``
    (7-bit weights: a file runs on every CPU it is copied to, and on x86
    CPUs without VNNI, such as AVX2-only ones, ONNX Runtime's u8s8 kernel
    multiplies pairs with a saturating 16-bit add that full 8-bit weights
    overflow; measured on an AVX2-only AMD EPYC, random full FCRN, 8
    calibration frames: correlation with FP32 0.90 with full 8-bit weights,
    0.955 with 7-bit) and
    ``calibrate_method=MinMax`` over ``frames`` (each a tensor of the input's
    shape). The quantiser drops the ``Relu`` after quantised convs (the uint8
    zero point clamps at 0) and ORT fuses the QDQ pairs into ``QLinearConv``
    when it loads the model.

    The result keeps the input and output names and float32 types (checked),
    the FP32 model's metadata with ``mono_depth.precision = int8`` plus
    ``mono_depth.quantization`` describing the above, and is written to
    ``out_path``. Returns the written model.
    """
    import onnxruntime
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    try:
        fp32 = onnx.load(str(fp32_path), load_external_data=False)
    except Exception as e:  # OSError, protobuf DecodeError
        raise ToolError(f"cannot read {fp32_path}: {e}") from None
    io = _io(fp32)
    if len(fp32.graph.input) != 1 or len(fp32.graph.output) != 1 or any(t != TensorProto.FLOAT for _, t in io):
        raise ToolError(f"{fp32_path}: expected one float32 input and one float32 output, found {io}")
    if not frames:
        raise ToolError("no calibration frames")
    meta = metadata.read(fp32)
    del fp32

    with tempfile.TemporaryDirectory(prefix="mono_depth_int8.") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_optimization=True, skip_symbolic_shape=True)
        raw = Path(tmp) / "int8.onnx"
        quantize_static(
            str(pre), str(raw), _Frames(io[0][0], frames),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        model = onnx.load(str(raw))

    if _io(model) != io:
        raise ToolError(f"quantised model changed its inputs/outputs: {_io(model)} instead of {io}")
    # ONNX Runtime 1.31 rejects the IR version onnx 1.23 writes; QDQ needs nothing newer than 8.
    model.ir_version = min(model.ir_version, IR_VERSION) if model.ir_version else IR_VERSION
    meta[metadata.PREFIX + "precision"] = "int8"
    meta[metadata.PREFIX + "quantization"] = QUANTIZATION_TEXT.format(
        ort=onnxruntime.__version__, n=len(frames), src=source)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save(model, out_path)
    return model


def _tool_sources() -> list:
    return sorted(Path(__file__).resolve().parent.glob("*.py"))


def _up_to_date(out: Path, inputs: list) -> bool:
    if not out.is_file():
        return False
    newest = max((p.stat().st_mtime for p in inputs), default=0.0)
    return out.stat().st_mtime > newest


def build_bench_models(dest, fp32=None, frames_dir=SAMPLE_FRAMES, force: bool = False, log=print) -> list:
    """Write ``FP16_NAME`` and ``INT8_NAME`` into ``dest``; returns their paths."""
    from .test_models import random_fcrn

    dest = Path(dest)
    fp32 = Path(fp32) if fp32 is not None else dest / FP32_NAME
    if not fp32.is_file():
        raise ToolError(f"{fp32} not found: run `build-test-models --out {dest}` first or pass --fp32 PATH")
    dest.mkdir(parents=True, exist_ok=True)
    sources = _tool_sources()

    def step(name: str, inputs: list, build) -> Path:
        path = dest / name
        if not force and _up_to_date(path, inputs):
            log(f"  {name:28s} (present)")
            return path
        t = time.monotonic()
        build(path)
        log(f"  {name:28s} {path.stat().st_size / 1e6:9.2f} MB  {time.monotonic() - t:5.1f} s")
        return path

    def fp16(path: Path) -> None:
        save(random_fcrn(FULL_SEED, fp16=True), path)

    paths = frame_paths(frames_dir)

    def int8(path: Path) -> None:
        try:
            src = str(Path(frames_dir).resolve().relative_to(REPO_ROOT))
        except ValueError:
            src = str(frames_dir)
        names = ",".join(p.stem for p in paths)
        quantize_int8(fp32, path, calibration_frames(paths), source=f"{src} ({names}), centre-cropped to 304x228")

    def da_fp32(path: Path) -> None:
        from . import depth_anything as da

        meta = da.crate_metadata(da.SMALL, metadata.random_weights_text(DA_SEED), trained=False)
        save(da.build(da.random_weights(da.SMALL, DA_SEED), da.SMALL, "pixel_values", None, meta), path)

    def da_int8(path: Path) -> None:
        quantize_matmuls(dest / DA_FP32_NAME, path)

    return [
        step(FP16_NAME, sources, fp16),
        step(INT8_NAME, sources + [fp32] + paths, int8),
        step(DA_FP32_NAME, sources, da_fp32),
        step(DA_INT8_NAME, sources + [dest / DA_FP32_NAME], da_int8),
    ]


def quantize_matmuls(fp32_path, out_path) -> onnx.ModelProto:
    """Dynamic INT8 quantisation of a transformer's MatMuls
    (``quantize_dynamic``, int8 weights per channel), keeping the input,
    output and metadata (``precision = int8``)."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    fp32 = onnx.load(str(fp32_path), load_external_data=False)
    io, meta = _io(fp32), metadata.read(fp32)
    del fp32
    with tempfile.TemporaryDirectory(prefix="mono_depth_int8.") as tmp:
        raw = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(fp32_path), str(raw), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8)
        model = onnx.load(str(raw))
    if _io(model) != io:
        raise ToolError(f"quantised model changed its inputs/outputs: {_io(model)} instead of {io}")
    model.ir_version = min(model.ir_version, IR_VERSION) if model.ir_version else IR_VERSION
    meta[metadata.PREFIX + "precision"] = "int8"
    meta[metadata.PREFIX + "quantization"] = DA_QUANTIZATION_TEXT.format(ort=onnxruntime.__version__)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, meta)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save(model, out_path)
    return model
