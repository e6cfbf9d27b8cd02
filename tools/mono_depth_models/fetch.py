"""Download (or take) the official weights, check them, convert to ONNX."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import metadata
from .convert import convert_npy
from .errors import ToolError
from .npy_io import load_weight_dict, sha256_file
from .architecture import expected_params
from .weights import validate

OFFICIAL_URL = "http://campar.in.tum.de/files/rupprecht/depthpred/NYU_ResNet-UpProj.npy"
PROJECT_URL = "https://github.com/iro-cp/FCRN-DepthPrediction"
NPY_NAME = "NYU_ResNet-UpProj.npy"
APPROX_SIZE = "about 255 MB"


def manual_steps(url: str = OFFICIAL_URL) -> str:
    return (
        "To install the official FCRN weights by hand:\n"
        f"  1. on a machine with internet access, download ({APPROX_SIZE})\n"
        f"       {url}\n"
        f"     (the 'TensorFlow model (.npy)' link for NYU Depth v2 in the README of\n"
        f"      {PROJECT_URL})\n"
        "  2. copy it here and run\n"
        "       cargo xtask fetch-model --npy /path/to/NYU_ResNet-UpProj.npy"
    )


def _progress(done: int, total: int | None, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-6) / 1e6
    if total:
        msg = f"\r  {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f} %)  {rate:5.1f} MB/s"
    else:
        msg = f"\r  {done / 1e6:7.1f} MB  {rate:5.1f} MB/s"
    sys.stderr.write(msg)
    sys.stderr.flush()


def download(url: str, dest: Path, timeout: float = 30.0) -> None:
    """Download ``url`` to ``dest`` (via ``dest.part``), showing progress.

    Resumable: bytes already in ``dest.part`` from an interrupted run are
    kept and only the rest is asked for (an HTTP Range request); a server
    that ignores the range sends the whole file, which then replaces them.
    The size the server announced is checked at the end."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    print(f"downloading {url}" + (f" (resuming after {have / 1e6:.1f} MB)" if have else ""), file=sys.stderr)
    try:
        headers = {"User-Agent": "bevy_mono_depth-tools"}
        if have:
            headers["Range"] = f"bytes={have}-"
        req = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resumed = have > 0 and resp.status == 206
            length = resp.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            start = have if resumed else 0
            total = start + length if length is not None else None
            done, started, last = start, time.monotonic(), 0.0
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    now = time.monotonic()
                    if now - last > 0.5:
                        _progress(done, total, started)
                        last = now
            _progress(done, total, started)
            sys.stderr.write("\n")
        if total is not None and done != total:
            raise ToolError(f"download of {url} ended early ({done} of {total} bytes); run the same "
                            "command again to resume\n\n" + manual_steps(url))
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        # What arrived is kept for the next run to resume from; nothing is
        # left behind when nothing arrived.
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()
        reason = getattr(e, "reason", None) or e
        kept = f"\n  ({part.stat().st_size / 1e6:.1f} MB kept in {part}: the next run resumes)" if part.is_file() else ""
        raise ToolError(f"could not download the official FCRN weights from\n  {url}\n  ({reason}){kept}\n\n"
                        + manual_steps(url)) from None
    part.replace(dest)


def fetch(dest_dir, npy: str | None = None, url: str = OFFICIAL_URL) -> list:
    """Get the weight file, check it, write ``fcrn.onnx`` and ``fcrn_fp16.onnx``,
    and ``fcrn_int8.onnx`` (static INT8 quantisation calibrated on the sample
    recording's frames; about 3x faster on CPU, its depth error not measured:
    check it on your scenes before relying on it)."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    if npy is not None:
        src = Path(npy)
        if not src.is_file():
            raise ToolError(f"{src}: no such file\n\n" + manual_steps(url))
    else:
        src = dest / NPY_NAME
        downloaded = not src.is_file()
        if downloaded:
            download(url, src)
        else:
            print(f"using the already downloaded {src}", file=sys.stderr)
    print(f"checking {src}", file=sys.stderr)
    digest = sha256_file(src)
    try:
        validate(load_weight_dict(src))
    except ToolError as e:
        if npy is None and downloaded:
            src.unlink(missing_ok=True)  # so that a later run downloads again
        raise ToolError(f"{src} is not the official FCRN weight file: {e}") from None
    print(f"  sha256 {digest}; all {len(expected_params())} layers present with the expected shapes",
          file=sys.stderr)
    if metadata.is_official(digest):
        print("  the sha256 matches the published one of the official file", file=sys.stderr)
    else:
        why = ("no published sha256 of the official file is known" if not metadata.OFFICIAL_SHA256
               else "the sha256 is not a published one of the official file")
        print(f"  {why}: recorded as user-supplied weights, not verified as the authors' file",
              file=sys.stderr)
    written = []
    for name, fp16 in (("fcrn.onnx", False), ("fcrn_fp16.onnx", True)):
        out = dest / name
        print(f"converting to {out}", file=sys.stderr)
        convert_npy(src, out, fp16=fp16, sha256=digest)
        written.append(out)
    from .bench_models import SAMPLE_FRAMES, calibration_frames, frame_paths, quantize_int8
    out = dest / "fcrn_int8.onnx"
    if SAMPLE_FRAMES.is_dir():
        print(f"quantising to {out} (INT8, calibrated on {SAMPLE_FRAMES})", file=sys.stderr)
        frames = calibration_frames(frame_paths())
        quantize_int8(dest / "fcrn.onnx", out, frames, source=f"{len(frames)} frames of assets/samples/room")
        written.append(out)
    else:
        print(f"no {SAMPLE_FRAMES} to calibrate on: {out} not written", file=sys.stderr)
    return written
