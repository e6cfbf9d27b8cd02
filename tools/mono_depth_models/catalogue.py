"""The trained models a user can get, what each one is, and ``fetch-model
--model NAME`` for the Depth Anything V2 files.

Every address, size and licence here is written as its source page gives
it. None could be checked from the machines this project is built on (no
internet beyond the package registries): ``checked`` says so for each, and
a download is checked against what the server announces and the page's
size, then validated by running the file once, before anything is written.

A fetched Depth Anything V2 file is copied with the crate's
``mono_depth.*`` metadata (ImageNet normalisation, dynamic input with long
side 518 in multiples of 14, relative or metric units, where the file came
from and its sha256), so the plugin loads it with no overrides.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ToolError
from .npy_io import sha256_file

NOT_CHECKED = "not checked: no machine this project is built on can reach it"


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a model."""

    name: str  # as published
    precision: str  # fp32, fp16, int8, q4
    url: str | None  # None where the page gives no stable address
    approx_bytes: int | None  # the page's rounded size ("99.1 MB")


@dataclass(frozen=True)
class Entry:
    """One model of the catalogue."""

    name: str  # what --model takes
    title: str
    page: str  # the source page
    licence: str
    parameters: str
    input: str
    output: str
    units: str  # metres or affine_inverse
    max_depth: float | None  # metric models: the head's sigmoid x this
    focal_px: float | None  # training focal length at an input of long side 518 (dynamic models)
    focal_source: str
    files: tuple
    checked: str = NOT_CHECKED
    nyu: str = "none published"  # published NYU Depth v2 figures

    def file(self, precision: str) -> RemoteFile:
        for f in self.files:
            if f.precision == precision:
                return f
        have = ", ".join(f.precision for f in self.files)
        raise ToolError(f"{self.name} has no {precision} file (it has: {have})")


HF_SMALL = "https://huggingface.co/onnx-community/depth-anything-v2-small"
FABIO_RELEASES = "https://github.com/fabio-sim/Depth-Anything-ONNX/releases"

# Hypersim renders every image at 1024 x 768 with a 60 degree horizontal
# field of view: fx = 512 / tan(30 deg) = 886.8 px. Depth Anything V2's
# metric training resizes the short side to 518 (768 -> 518) and crops
# 518 x 518, so the network saw fx = 886.8 * 518 / 768 = 598.1 px.
HYPERSIM_FOCAL_518 = round(512 / np.tan(np.radians(30)) * 518 / 768, 1)
# Virtual KITTI 2: 1242 x 375, fx = 725.0087 px; short side 375 -> 518.
VKITTI_FOCAL_518 = round(725.0087 * 518 / 375, 1)

CATALOGUE = {
    e.name: e
    for e in (
        Entry(
            name="fcrn",
            title="FCRN ResNet-50 up-projection, NYU Depth v2 (Laina et al. 2016)",
            page="https://github.com/openvinotoolkit/open_model_zoo/blob/master/models/public/"
                 "fcrn-dp-nyu-depth-v2-tf/model.yml",
            licence="BSD-2-Clause (the authors' repository, irolaina/FCRN-DepthPrediction)",
            parameters="63.6 M",
            input="image [1,3,228,304], RGB 0-255",
            output="depth [1,1,128,160]",
            units="metres",
            max_depth=None,
            focal_px=259.58,
            focal_source="NYU Depth v2's Kinect (toolbox camera_params.m: 518.86 x 519.47 px at 640x480), "
                         "halved as FCRN halves its images",
            files=(RemoteFile("NYU_FCRN-checkpoint.zip", "fp32",
                              "https://storage.openvinotoolkit.org/repositories/open_model_zoo/public/2022.1/"
                              "fcrn-dp-nyu-depth-v2-tf/NYU_FCRN-checkpoint.zip", 472_588_519),),
            nyu="rel 0.127, rms 0.573 m, delta1 0.811 (Laina et al. 2016, table 2)",
        ),
        Entry(
            name="depth-anything-v2-small",
            title="Depth Anything V2 Small, relative (Yang et al. 2024)",
            page=HF_SMALL,
            licence="Apache-2.0 (the Small size; Base, Large and Giant are CC-BY-NC-4.0)",
            parameters="24.8 M",
            input="pixel_values [batch,3,height,width], sides multiples of 14, ImageNet-normalised 0-1 RGB",
            output="predicted_depth [batch,height,width], relative inverse depth",
            units="affine_inverse",
            max_depth=None,
            focal_px=None,
            focal_source="none: relative depth is made metric from each frame's anchors",
            files=tuple(
                RemoteFile(name, precision, f"{HF_SMALL}/resolve/main/onnx/{name}", size)
                for name, precision, size in (
                    ("model.onnx", "fp32", 99_100_000),
                    ("model_fp16.onnx", "fp16", 49_600_000),
                    ("model_int8.onnx", "int8", 27_300_000),
                    ("model_q4.onnx", "q4", 27_400_000),
                )
            ),
            nyu="zero-shot relative figures only (the paper's table 2; not copied here)",
        ),
        Entry(
            name="depth-anything-v2-metric-indoor-small",
            title="Depth Anything V2 Small fine-tuned on Hypersim for metric indoor depth",
            page=FABIO_RELEASES,
            licence="Apache-2.0 (the Small size)",
            parameters="24.8 M",
            input="image [1,3,height,width], sides multiples of 14, ImageNet-normalised 0-1 RGB",
            output="depth [1,height,width], metres (sigmoid x 20)",
            units="metres",
            max_depth=20.0,
            focal_px=HYPERSIM_FOCAL_518,
            focal_source="derived: Hypersim's 1024x768 renders at a 60 degree horizontal field of view "
                         f"(fx 886.8 px), short side resized to 518 as the metric training does: "
                         f"{HYPERSIM_FOCAL_518} px at long side 518",
            # The releases page lists the exports; no file address is
            # recorded here, so the file is downloaded by hand (--file).
            files=(RemoteFile("the indoor Small .onnx export", "fp32", None, None),),
        ),
        Entry(
            name="depth-anything-v2-metric-outdoor-small",
            title="Depth Anything V2 Small fine-tuned on Virtual KITTI 2 for metric outdoor depth",
            page=FABIO_RELEASES,
            licence="Apache-2.0 (the Small size)",
            parameters="24.8 M",
            input="image [1,3,height,width], sides multiples of 14, ImageNet-normalised 0-1 RGB",
            output="depth [1,height,width], metres (sigmoid x 80)",
            units="metres",
            max_depth=80.0,
            focal_px=VKITTI_FOCAL_518,
            focal_source="derived: Virtual KITTI 2's fx 725.0087 px at 1242x375, short side resized to 518: "
                         f"{VKITTI_FOCAL_518} px at long side 518",
            files=(RemoteFile("the outdoor Small .onnx export", "fp32", None, None),),
        ),
    )
}

# How far a download may be from the page's rounded size (the page gives
# three digits).
SIZE_TOLERANCE = 0.01
# Where a fetched file is validated: a 4:3 frame at long side 518.
VALIDATION_SIZE = (392, 518)


def replace_url(name: str, url: str) -> dict:
    """The catalogue with ``name``'s fp32 file at ``url`` (tests serve files
    locally); its size is then the one the server announces."""
    from dataclasses import replace

    if name not in CATALOGUE:
        raise ToolError(f"no model named {name!r} in the catalogue (known: {', '.join(CATALOGUE)})")
    entry = CATALOGUE[name]
    files = tuple(replace(f, url=url, approx_bytes=None) if f.precision == "fp32" else f for f in entry.files)
    return {**CATALOGUE, name: replace(entry, files=files)}


def table_markdown() -> str:
    """The catalogue as the README's model table."""
    rows = ["| model (`--model`) | parameters | input | output | licence | NYU Depth v2 (published) | "
            "training focal length | address checked |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in CATALOGUE.values():
        focal = f"{e.focal_px} px ({e.focal_source})" if e.focal_px else e.focal_source
        rows.append(f"| `{e.name}`: {e.title} | {e.parameters} | {e.input} | {e.output} | {e.licence} | "
                    f"{e.nyu} | {focal} | {e.checked} |")
    return "\n".join(rows)


def validate(path: Path, entry: Entry) -> dict:
    """Run the file once on a frame-like input and refuse what cannot be
    depth: not one float input [batch,3,H,W] and one float output of rank
    3, or an output that is all zero, holds NaN or infinity, is constant,
    or (metric) leaves 0..max_depth. Returns a summary of the output."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ONNX Runtime raises several kinds
        raise ToolError(f"{path}: ONNX Runtime cannot load it ({e})") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    expected = "one float input [batch,3,height,width] and one float output [batch,height,width]"
    if len(inputs) != 1 or len(outputs) != 1:
        raise ToolError(f"{path}: expected {expected}, found {len(inputs)} inputs and {len(outputs)} outputs")
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 4 or shape[1] != 3 or len(outputs[0].shape) != 3:
        raise ToolError(f"{path}: expected {expected}, found {inputs[0].name} {inputs[0].type} {shape} -> "
                        f"{outputs[0].name} {outputs[0].shape}")
    h, w = (d if isinstance(d, int) and d > 0 else v for d, v in zip(shape[2:], VALIDATION_SIZE))
    from .depth_anything import IMAGENET_MEAN, IMAGENET_STD
    # A smooth frame with some texture, normalised as the model expects.
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * x + c) * np.cos(4 * y) for c in range(3)])
    frame = ((rgb - np.reshape(IMAGENET_MEAN, (3, 1, 1))) / np.reshape(IMAGENET_STD, (3, 1, 1)))
    out = session.run(None, {inputs[0].name: frame[None].astype(np.float32)})[0]
    if not np.isfinite(out).all():
        raise ToolError(f"{path}: refused: its output holds NaN or infinity "
                        f"({int((~np.isfinite(out)).sum())} of {out.size} values)")
    if not np.any(out):
        raise ToolError(f"{path}: refused: its output is all zeros (a broken export)")
    lo, hi = float(out.min()), float(out.max())
    if hi - lo <= 1e-6 * max(abs(lo), abs(hi)):
        raise ToolError(f"{path}: refused: its output is constant ({lo}) whatever the image")
    if entry.max_depth is not None and (lo < 0 or hi > entry.max_depth * 1.0001):
        raise ToolError(f"{path}: refused: metric output {lo:.3g}..{hi:.3g} m leaves 0..{entry.max_depth} m")
    return {"shape": list(out.shape), "min": lo, "max": hi}


def _metadata(entry: Entry, source: str, size: int, sha256: str, precision: str) -> dict:
    from . import depth_anything

    meta = depth_anything.crate_metadata(
        depth_anything.SMALL,
        weights=f"{entry.title}: {source}, {size} bytes, sha256 {sha256}",
        trained=True,
        max_depth=entry.max_depth,
        model=entry.name.replace("-", "_"),
        precision="int8" if precision in ("int8", "q4") else precision,
    )
    if entry.focal_px is not None:
        meta["mono_depth.focal_px"] = str(entry.focal_px)
    return meta


def install(path: Path, entry: Entry, out: Path, source: str, precision: str = "fp32") -> Path:
    """Validate ``path`` and write a copy with the crate's metadata at ``out``."""
    import onnx

    summary = validate(path, entry)
    print(f"  ran once: output {summary['shape']}, {summary['min']:.4g}..{summary['max']:.4g}", file=sys.stderr)
    model = onnx.load(str(path))
    meta = _metadata(entry, source, path.stat().st_size, sha256_file(path), precision)
    kept = [p for p in model.metadata_props if not p.key.startswith("mono_depth.")]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    print(f"wrote {out} (mono_depth metadata: {meta['mono_depth.output_units']}, long side 518, "
          f"multiples of 14)", file=sys.stderr)
    return out


def fetch_model(name: str, dest, file: str | None = None, precision: str = "fp32",
                catalogue: dict | None = None) -> Path:
    """``fetch-model --model NAME``: download (or take ``file``), check,
    validate and install ``DEST/NAME[_precision].onnx``."""
    from .fetch import download

    catalogue = CATALOGUE if catalogue is None else catalogue
    if name not in catalogue:
        raise ToolError(f"no model named {name!r} in the catalogue (known: {', '.join(catalogue)})")
    entry = catalogue[name]
    remote = entry.file(precision)
    dest = Path(dest)
    out = dest / (entry.name + ("" if precision == "fp32" else f"_{precision}") + ".onnx")
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ToolError(f"{path}: no such file")
        source = f"{path.name} (given by hand)"
    else:
        if remote.url is None:
            raise ToolError(f"{entry.name}: no download address is recorded for {remote.name}. Download it "
                            f"from {entry.page} on a machine with internet access and run\n"
                            f"  cargo xtask fetch-model --model {entry.name} --file /path/to/the/file.onnx")
        path = dest / "downloads" / f"{entry.name}-{remote.name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file():
            download(remote.url, path, size=None, approx_size=remote.approx_bytes, tolerance=SIZE_TOLERANCE)
        source = remote.url
    try:
        return install(path, entry, out, source, precision)
    except ToolError:
        if file is None:
            path.unlink(missing_ok=True)  # a later run downloads again
        raise
