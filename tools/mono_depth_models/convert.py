"""FCRN weight file (``NYU_ResNet-UpProj.npy`` layout) -> ONNX.

The metadata records what is known about the file: its name, size and sha256.
It is called official only when the sha256 is one the authors publish
(``metadata.OFFICIAL_SHA256``, empty today); otherwise "user-supplied".
"""

from __future__ import annotations

from pathlib import Path

from . import metadata
from .fcrn import build_fcrn
from .npy_io import load_weight_dict, sha256_file
from .onnx_graph import save
from .weights import validate


def weights_text(npy_path, sha256: str | None = None) -> str:
    """The ``mono_depth.weights`` text for a weight file (``sha256`` if already computed)."""
    path = Path(npy_path)
    return metadata.weights_file_text(path.name, path.stat().st_size, sha256 or sha256_file(path))


def convert_npy(npy_path, out_path, *, fp16: bool = False, fuse_bn: bool = True, sha256: str | None = None) -> dict:
    """Convert an FCRN weight file; returns the metadata written."""
    weights = validate(load_weight_dict(npy_path))
    # trained: the file has every layer of the trained network with its shape;
    # whether it is the authors' file is in the weights text.
    meta = metadata.fcrn_metadata(
        weights_text(npy_path, sha256), trained=True, precision="fp16" if fp16 else "fp32"
    )
    model = build_fcrn(weights, fuse_bn=fuse_bn, fp16=fp16, metadata=meta)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    save(model, tmp)
    tmp.replace(out_path)
    return meta
