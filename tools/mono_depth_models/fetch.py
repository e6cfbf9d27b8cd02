"""Download (or take) the trained FCRN weights, check them, convert to ONNX.

Where the weights come from today: the FCRN authors' own links on
campar.in.tum.de have been dead since about 2022 (open issues #97, #98, #100
and #102 of irolaina/FCRN-DepthPrediction). The one surviving copy is the
authors' TensorFlow checkpoint, ``NYU_FCRN-checkpoint.zip``, kept by
OpenVINO's Open Model Zoo with its size and sha256 (``MIRROR``). It is tried
first; the authors' dead ``.npy`` address stays as a later fallback
(``AUTHORS_NPY``). Neither address can be checked from the machines this
project is built on; both are written as their source pages give them.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import metadata
from .architecture import expected_params
from .convert import CHECKPOINT, NPY, convert_file, load_weights
from .errors import ToolError
from .npy_io import sha256_file

PROJECT_URL = "https://github.com/irolaina/FCRN-DepthPrediction"
MODEL_ZOO_PAGE = ("https://github.com/openvinotoolkit/open_model_zoo/blob/master/models/public/"
                  "fcrn-dp-nyu-depth-v2-tf/model.yml")


@dataclass(frozen=True)
class Source:
    """One place the weights can be downloaded from."""

    name: str  # the file name it is saved as
    url: str
    kind: str  # convert.NPY or convert.CHECKPOINT
    size: int | None  # bytes, when known
    sha256: str | None  # when known
    about: str  # one line: whose copy this is

    def describe(self) -> str:
        size = f"{self.size:,} bytes" if self.size else "size unknown"
        return f"{self.url}\n     ({self.about}; {size})"


MIRROR = Source(
    name="NYU_FCRN-checkpoint.zip",
    url=("https://storage.openvinotoolkit.org/repositories/open_model_zoo/public/2022.1/"
         "fcrn-dp-nyu-depth-v2-tf/NYU_FCRN-checkpoint.zip"),
    kind=CHECKPOINT,
    size=472_588_519,
    sha256=metadata.OFFICIAL_CHECKPOINT_SHA256,
    about="the authors' TensorFlow checkpoint, kept by OpenVINO's Open Model Zoo",
)
AUTHORS_NPY = Source(
    name="NYU_ResNet-UpProj.npy",
    url="http://campar.in.tum.de/files/rupprecht/depthpred/NYU_ResNet-UpProj.npy",
    kind=NPY,
    size=None,
    sha256=None,
    about="the authors' own address, dead since about 2022",
)
SOURCES = (MIRROR, AUTHORS_NPY)
OFFICIAL_URL = MIRROR.url


def source_for_url(url: str, size: int | None = None, sha256: str | None = None) -> Source:
    """A source at another address (tests, or a copy of one's own): a ``.zip``
    is taken as the checkpoint, anything else as the ``.npy``."""
    name = url.rstrip("/").rsplit("/", 1)[-1] or "weights"
    kind = CHECKPOINT if name.endswith(".zip") else NPY
    return Source(name=name, url=url, kind=kind, size=size, sha256=sha256, about="the given address")


def manual_steps(sources=SOURCES) -> str:
    listed = "\n".join(f"       {s.describe()}" for s in sources)
    return (
        "To install the trained FCRN weights by hand:\n"
        "  1. on a machine with internet access, download\n"
        f"{listed}\n"
        "  2. copy the file here and run\n"
        "       cargo xtask fetch-model --checkpoint /path/to/NYU_FCRN-checkpoint.zip\n"
        "     (or --npy /path/to/NYU_ResNet-UpProj.npy for the authors' .npy)"
    )


def _progress(done: int, total: int | None, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-6) / 1e6
    if total:
        msg = f"\r  {done / 1e6:7.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f} %)  {rate:5.1f} MB/s"
    else:
        msg = f"\r  {done / 1e6:7.1f} MB  {rate:5.1f} MB/s"
    sys.stderr.write(msg)
    sys.stderr.flush()


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    return str(getattr(e, "reason", None) or e)


def _off(total: int, approx: int | None, tolerance: float) -> bool:
    return approx is not None and abs(total - approx) > tolerance * approx


def download(url: str, dest: Path, timeout: float = 30.0, size: int | None = None,
             approx_size: int | None = None, tolerance: float = 0.0) -> None:
    """Download ``url`` to ``dest`` (via ``dest.part``), showing progress.

    Resumable: bytes already in ``dest.part`` from an interrupted run are
    kept and only the rest is asked for (an HTTP Range request); a server
    that ignores the range sends the whole file, which then replaces them.
    The size the server announced, and ``size`` when given, are checked: a
    server announcing another size is refused before anything is written.
    ``approx_size`` (a page's rounded size) is checked the same way, within
    ``tolerance`` (a fraction)."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
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
            if size is not None and total is not None and total != size:
                raise ToolError(f"{url} announces {total:,} bytes, but the file is {size:,} bytes: "
                                "not the expected file, nothing was downloaded")
            if total is not None and _off(total, approx_size, tolerance):
                raise ToolError(f"{url} announces {total:,} bytes, but its page gives about {approx_size:,}: "
                                "not the expected file, nothing was downloaded")
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
        expected = size if size is not None else total
        if expected is not None and done != expected:
            raise ToolError(f"download of {url} ended early ({done:,} of {expected:,} bytes); run the same "
                            "command again to resume")
        if _off(done, approx_size, tolerance):
            part.unlink()
            raise ToolError(f"{url} sent {done:,} bytes, but its page gives about {approx_size:,}: "
                            "not the expected file, removed")
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        # What arrived is kept for the next run to resume from; nothing is
        # left behind when nothing arrived.
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()
        kept = f"\n  ({part.stat().st_size / 1e6:.1f} MB kept in {part}: the next run resumes)" if part.is_file() else ""
        raise ToolError(f"could not download {url} ({_reason(e)}){kept}") from None
    part.replace(dest)


def verify(path: Path, source: Source) -> str:
    """Check a downloaded file's size and sha256 against the source's; returns
    the sha256. A mismatch removes the file (so the next run downloads again)."""
    actual = path.stat().st_size
    if source.size is not None and actual != source.size:
        path.unlink()
        raise ToolError(f"{path.name} from {source.url} has {actual:,} bytes, expected {source.size:,}: removed")
    print(f"checking the sha256 of {path}", file=sys.stderr)
    digest = sha256_file(path)
    if source.sha256 is not None and digest != source.sha256.lower():
        path.unlink()
        raise ToolError(f"{path.name} from {source.url} has sha256 {digest}, expected {source.sha256}: "
                        "not the expected file (damaged or replaced), removed")
    return digest


def obtain(dest: Path, sources=SOURCES) -> tuple:
    """Download from the first source that delivers the expected file, or use
    a complete earlier download; returns ``(path, source, sha256)``."""
    for source in sources:
        path = dest / source.name
        if path.is_file():
            print(f"using the already downloaded {path}", file=sys.stderr)
            try:
                return path, source, verify(path, source)
            except ToolError as e:
                print(f"  {e}", file=sys.stderr)
    failures = []
    for source in sources:
        path = dest / source.name
        try:
            download(source.url, path, size=source.size)
            return path, source, verify(path, source)
        except ToolError as e:
            failures.append(f"  {e}")
            print(f"  {e}", file=sys.stderr)
    raise ToolError("could not download the trained FCRN weights:\n" + "\n".join(failures) + "\n\n"
                    + manual_steps(sources))


def _ask(url: str, timeout: float) -> int | None:
    """The file's size as the server announces it, by a HEAD request; servers
    that refuse HEAD are asked for its first byte instead."""
    headers = {"User-Agent": "bevy_mono_depth-tools"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD", headers=headers),
                                    timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            return int(length) if length and length.isdigit() else None
    except urllib.error.HTTPError as e:
        if e.code not in (403, 405, 501):
            raise
    with urllib.request.urlopen(urllib.request.Request(url, headers={**headers, "Range": "bytes=0-0"}),
                                timeout=timeout) as resp:
        total = (resp.headers.get("Content-Range") or "").rpartition("/")[2]
        return int(total) if total.isdigit() else None


def probe(sources=SOURCES, timeout: float = 8.0) -> tuple:
    """Ask each source for the file itself (status and Content-Length),
    without downloading it. Returns ``(source, None)`` for the first that
    offers the expected file, else ``(None, one line saying what each
    answered)``."""
    answers = []
    for source in sources:
        try:
            length = _ask(source.url, timeout)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
            answers.append(f"{source.url}: {_reason(e)}")
            continue
        if source.size is not None and length is not None and length != source.size:
            answers.append(f"{source.url}: {length:,} bytes, expected {source.size:,}")
            continue
        return source, None
    return None, "; ".join(answers)


def fetch(dest_dir, npy: str | None = None, checkpoint: str | None = None, sources=SOURCES) -> list:
    """Get the weights, check them, write ``fcrn.onnx`` and ``fcrn_fp16.onnx``,
    and ``fcrn_int8.onnx`` (static INT8 quantisation calibrated on the sample
    recording's frames; about 3x faster on CPU, its depth error not measured:
    check it on your scenes before relying on it)."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    downloaded = None
    if npy is not None or checkpoint is not None:
        src, kind = (Path(npy), NPY) if npy is not None else (Path(checkpoint), CHECKPOINT)
        if not (src.exists() or Path(str(src) + ".index").is_file()):
            raise ToolError(f"{src}: no such file\n\n" + manual_steps(sources))
        digest = None
    else:
        src, source, digest = obtain(dest, sources)
        kind, downloaded = source.kind, src
    print(f"checking {src}", file=sys.stderr)
    try:
        weights = load_weights(src, kind)
    except ToolError as e:
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)  # so that a later run downloads again
        raise ToolError(f"{src} does not hold the trained FCRN weights: {e}") from None
    from .convert import provenance_file

    described = provenance_file(src, kind)
    digest = digest or sha256_file(described)
    print(f"  sha256 {digest}; all {len(expected_params())} layers present with the expected shapes",
          file=sys.stderr)
    if metadata.is_official(digest):
        print(f"  the sha256 matches the authors' file ({metadata.OFFICIAL_SHA256[digest]})", file=sys.stderr)
    else:
        print(f"  {described.name}'s sha256 is not one recorded from the authors' files: recorded as "
              "user-supplied weights, not verified as the authors' file", file=sys.stderr)
    written = []
    for name, fp16 in (("fcrn.onnx", False), ("fcrn_fp16.onnx", True)):
        out = dest / name
        print(f"converting to {out}", file=sys.stderr)
        convert_file(src, out, kind=kind, fp16=fp16, sha256=digest, weights=weights)
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
