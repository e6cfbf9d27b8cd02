#!/usr/bin/env python3
"""The program a user would write instead of the crate: camera frame -> depth in Python.

A standalone baseline for the crate's performance report (``benches/report``): it
uses only onnxruntime, numpy and Pillow (no ``mono_depth_models``) and runs the
crate's per-frame pipeline on one model, timing each stage:

1. preprocess: the frame's bytes to RGB (BGRA -> RGB), "fill" resize (centre
   crop to the model input's aspect, Pillow BILINEAR resize to the input
   size), float32, ``(value * pixel_scale - pixel_mean) / pixel_std`` from the
   model's ``mono_depth.*`` metadata, channel order (RGB/BGR) and layout
   (NCHW/NHWC) from the metadata, batch 1;
2. inference: ``session.run`` (CPU, ``intra_op_num_threads=T``, inter-op 1,
   sequential execution, graph optimisation level ALL);
3. postprocess: the output as a 2D float32 map (``inverse_relative`` output
   becomes ``1/v``), valid = finite and > 0 and within the metadata's
   ``depth_min``..``depth_max`` (the crate's default 0.5..10 m without them),
   invalid pixels set to 0, min/max/mean over the valid ones.

Frames are the Rust benchmark's synthetic frame: a flat W*H*C byte buffer
(C = 3 for ``rgb``, 4 for ``bgra`` in the order B, G, R, A) with byte
``i = ((i * 2654435761) mod 2**32) >> 24``. The same frame is processed every
time, like the crate's benchmark.

``--bare`` times only ``session.run`` on one tensor prepared beforehand (the
other stages report 0).

Prints one JSON object: onnxruntime version, threads, frames, ``median_ms``
and ``p90_ms`` of each stage and of the total (linear-interpolated
percentiles over the timed frames, after ``--warmup`` untimed ones), plus the
depth statistics of the last frame.

    python tools/bench_python.py --model target/models/fcrn_random_full.onnx \\
        --frames 20 --warmup 3 --threads 4 --width 640 --height 480 --format bgra
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

GOLDEN = 2654435761
CHANNELS = {"rgb": 3, "bgra": 4}
DEFAULT_RANGE = (0.5, 10.0)  # the crate's default when a model has no depth_min/depth_max
STAGES = ("preprocess", "inference", "postprocess", "total")


def synthetic_frame(width: int, height: int, fmt: str) -> bytes:
    """The Rust benchmark's frame: byte i = ((i * 2654435761) mod 2**32) >> 24."""
    i = np.arange(width * height * CHANNELS[fmt], dtype=np.uint64)
    return (((i * np.uint64(GOLDEN)) & np.uint64(0xFFFFFFFF)) >> np.uint64(24)).astype(np.uint8).tobytes()


def _floats(text: str | None, default: list) -> list:
    return default if text is None else [float(v) for v in text.split(",")]


class Pipeline:
    """One model's session and the frame -> tensor -> depth steps."""

    def __init__(self, model: str, threads: int):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name, self.output_name = inp.name, out.name
        meta = self.session.get_modelmeta().custom_metadata_map

        def key(k):
            return meta.get("mono_depth." + k)

        shape = inp.shape
        self.layout = (key("input_layout") or ("NCHW" if shape[1] == 3 else "NHWC")).upper()
        if self.layout == "NCHW":
            self.height, self.width = int(shape[2]), int(shape[3])
        else:
            self.height, self.width = int(shape[1]), int(shape[2])
        scale = float(key("pixel_scale") or 1.0)
        mean = np.array(_floats(key("pixel_mean"), [0.0] * 3), np.float32)
        std = np.array(_floats(key("pixel_std"), [1.0] * 3), np.float32)
        # (v * scale - mean) / std as one multiply-add per value
        self.mul = (scale / std).astype(np.float32)
        self.add = (-mean / std).astype(np.float32)
        self.bgr = (key("color_order") or "RGB").upper() == "BGR"
        self.inverse = key("output_units") == "inverse_relative"
        lo, hi = key("depth_min"), key("depth_max")
        self.range = (float(lo) if lo is not None else DEFAULT_RANGE[0],
                      float(hi) if hi is not None else DEFAULT_RANGE[1])

    def fill_box(self, fw: int, fh: int) -> tuple:
        """Largest centred rectangle of the input's aspect inside the frame: (left, top, right, bottom)."""
        iw, ih = self.width, self.height
        cw, ch = (fh * iw / ih, float(fh)) if fw * ih > fh * iw else (float(fw), fw * ih / iw)
        left, top = (fw - cw) / 2, (fh - ch) / 2
        return (left, top, left + cw, top + ch)

    def preprocess(self, data: bytes, width: int, height: int, fmt: str) -> np.ndarray:
        pixels = np.frombuffer(data, np.uint8).reshape(height, width, CHANNELS[fmt])
        rgb = pixels[..., [2, 1, 0]] if fmt == "bgra" else pixels
        image = Image.fromarray(np.ascontiguousarray(rgb))
        resized = image.resize((self.width, self.height), Image.Resampling.BILINEAR,
                               box=self.fill_box(width, height))
        x = np.asarray(resized, dtype=np.float32)
        if self.bgr:
            x = x[..., ::-1]
        x = x * self.mul + self.add
        if self.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: tensor})[0]

    def postprocess(self, output: np.ndarray) -> tuple:
        raw = output.reshape(output.shape[-2], output.shape[-1]).astype(np.float32, copy=False)
        if self.inverse:
            with np.errstate(divide="ignore"):
                raw = np.where(raw > 0, 1.0 / raw, np.nan).astype(np.float32)
        lo, hi = self.range
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(raw) & (raw > 0) & (raw >= lo) & (raw <= hi)
        depth = np.where(valid, raw, np.float32(0))
        n = int(valid.sum())
        if n:
            values = depth[valid]
            stats = {"min": float(values.min()), "max": float(values.max()),
                     "mean": float(values.mean(dtype=np.float64)), "valid": n}
        else:
            stats = {"min": 0.0, "max": 0.0, "mean": 0.0, "valid": 0}
        return depth, valid, stats


def run(args) -> dict:
    pipe = Pipeline(args.model, args.threads)
    frame = synthetic_frame(args.width, args.height, args.format)
    times = {s: [] for s in STAGES}
    stats = None
    if args.bare:
        tensor = pipe.preprocess(frame, args.width, args.height, args.format)
        for k in range(args.warmup + args.frames):
            t0 = time.perf_counter()
            out = pipe.infer(tensor)
            t1 = time.perf_counter()
            if k >= args.warmup:
                for s, v in zip(STAGES, (0.0, t1 - t0, 0.0, t1 - t0)):
                    times[s].append(v * 1e3)
        stats = pipe.postprocess(out)[2]
    else:
        for k in range(args.warmup + args.frames):
            t0 = time.perf_counter()
            tensor = pipe.preprocess(frame, args.width, args.height, args.format)
            t1 = time.perf_counter()
            out = pipe.infer(tensor)
            t2 = time.perf_counter()
            _, _, stats = pipe.postprocess(out)
            t3 = time.perf_counter()
            if k >= args.warmup:
                for s, v in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    times[s].append(v * 1e3)
    return {
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "frames": args.frames,
        "median_ms": {s: round(float(np.median(v)), 3) for s, v in times.items()},
        "p90_ms": {s: round(float(np.percentile(v, 90)), 3) for s, v in times.items()},
        "mode": "bare" if args.bare else "pipeline",
        "model": args.model,
        "frame": f"{args.width}x{args.height} {args.format}",
        "input": f"{pipe.width}x{pipe.height} {pipe.layout}",
        "warmup": args.warmup,
        "depth": stats,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, metavar="PATH", help="ONNX model (float32 input and output)")
    p.add_argument("--frames", type=int, default=20, metavar="N", help="timed frames (default 20)")
    p.add_argument("--warmup", type=int, default=3, metavar="K", help="untimed frames first (default 3)")
    p.add_argument("--threads", type=int, default=1, metavar="T",
                   help="ONNX Runtime intra-op threads (0: its default; default 1)")
    p.add_argument("--width", type=int, default=640, metavar="W", help="frame width (default 640)")
    p.add_argument("--height", type=int, default=480, metavar="H", help="frame height (default 480)")
    p.add_argument("--format", choices=sorted(CHANNELS), default="bgra", help="frame pixel format (default bgra)")
    p.add_argument("--bare", action="store_true", help="time only session.run on one prepared tensor")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.frames < 1 or args.warmup < 0 or args.threads < 0 or args.width < 1 or args.height < 1:
        print("error: --frames, --width and --height must be >= 1, --warmup and --threads >= 0", file=sys.stderr)
        return 2
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
