"""Official ``NYU_ResNet-UpProj.npy`` -> ONNX."""

from __future__ import annotations

from pathlib import Path

from . import metadata
from .fcrn import build_fcrn
from .npy_io import load_weight_dict, sha256_file
from .onnx_graph import save
from .weights import validate


def convert_npy(npy_path, out_path, *, fp16: bool = False, fuse_bn: bool = True, sha256: str | None = None) -> dict:
    """Convert the official weight file; returns the metadata written."""
    weights = validate(load_weight_dict(npy_path))
    digest = sha256 or sha256_file(npy_path)
    meta = metadata.fcrn_metadata(
        metadata.official_weights_text(digest), trained=True, precision="fp16" if fp16 else "fp32"
    )
    model = build_fcrn(weights, fuse_bn=fuse_bn, fp16=fp16, metadata=meta)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    save(model, tmp)
    tmp.replace(out_path)
    return meta
