"""FCRN weights -> ONNX, from either of the authors' two formats.

* ``NYU_ResNet-UpProj.npy``: a pickled ``{layer: {param: array}}`` dict
  (``npy_io``);
* ``NYU_FCRN-checkpoint.zip``: their TensorFlow checkpoint, as a zip, an
  ``.index`` file or a checkpoint prefix (``tf_checkpoint``).

Both give the same dict, so one structure check and one graph builder serve
both. The metadata records what is known about the file: its name, size and
sha256. It is called official only when the sha256 is in
``metadata.OFFICIAL_SHA256``; otherwise "user-supplied".
"""

from __future__ import annotations

from pathlib import Path

from . import metadata, tf_checkpoint
from .errors import ToolError
from .fcrn import build_fcrn
from .npy_io import load_weight_dict, sha256_file
from .onnx_graph import save
from .weights import validate

NPY = "npy"
CHECKPOINT = "checkpoint"


def provenance_file(path, kind: str) -> Path:
    """The file whose name, size and hash describe the weights: the ``.npy``,
    the checkpoint zip, or (for an unpacked checkpoint) its data shard."""
    path = Path(path)
    if kind != CHECKPOINT or (path.is_file() and not path.name.endswith(".index")):
        return path
    prefix = str(path)[: -len(".index")] if path.name.endswith(".index") else str(path)
    shard = Path(tf_checkpoint.shard_name(prefix, 0, 1))
    return shard if shard.is_file() else Path(prefix + ".index")


def weights_text(path, sha256: str | None = None, kind: str = NPY) -> str:
    """The ``mono_depth.weights`` text for a weight file (``sha256`` if already computed)."""
    f = provenance_file(path, kind)
    try:
        size = f.stat().st_size
    except OSError as e:
        raise ToolError(f"cannot read {f}: {e.strerror or e}") from None
    return metadata.weights_file_text(f.name, size, sha256 or sha256_file(f))


def load_weights(path, kind: str, width_div: int = 1) -> dict:
    """Read and check the weights; errors name the file and what is wrong."""
    raw = tf_checkpoint.weight_dict(path) if kind == CHECKPOINT else load_weight_dict(path)
    try:
        return validate(raw, width_div)
    except ToolError as e:
        raise ToolError(f"{path}: {e}") from None


def convert_file(path, out_path, *, kind: str = NPY, fp16: bool = False, fuse_bn: bool = True,
                 sha256: str | None = None, weights: dict | None = None, width_div: int = 1) -> dict:
    """Convert an FCRN weight file (``weights``: its already checked dict);
    returns the metadata written."""
    if weights is None:
        weights = load_weights(path, kind, width_div)
    # trained: the file has every layer of the trained network with its shape;
    # whether it is the authors' file is in the weights text.
    meta = metadata.fcrn_metadata(
        weights_text(path, sha256, kind), trained=True, precision="fp16" if fp16 else "fp32"
    )
    model = build_fcrn(weights, width_div=width_div, fuse_bn=fuse_bn, fp16=fp16, metadata=meta)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    save(model, tmp)
    tmp.replace(out_path)
    return meta


def convert_npy(npy_path, out_path, **options) -> dict:
    """Convert ``NYU_ResNet-UpProj.npy`` (or a file in its layout)."""
    return convert_file(npy_path, out_path, kind=NPY, **options)


def convert_checkpoint(path, out_path, **options) -> dict:
    """Convert the TensorFlow checkpoint (zip, ``.index`` or prefix)."""
    return convert_file(path, out_path, kind=CHECKPOINT, **options)
