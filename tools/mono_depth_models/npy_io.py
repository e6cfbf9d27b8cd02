"""Reading the authors' pickled ``.npy`` weight dict without arbitrary pickles.

``NYU_ResNet-UpProj.npy`` is a 0-d object array holding a Python 2 pickle of
``{layer: {param: ndarray}}``; the authors load it with
``np.load(path, encoding='latin1').item()``. ``np.load(allow_pickle=True)``
would run any code a tampered file contains, so this module parses the .npy
header itself and unpickles with a whitelist of numpy's own array
reconstruction functions.
"""

from __future__ import annotations

import codecs
import collections
import hashlib
import pickle

import numpy as np
from numpy.lib import format as npy_format

from .errors import ToolError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
    # protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, 'latin1')
    ("_codecs", "encode"): codecs.encode,
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ToolError(
                f"refusing to unpickle {module}.{name}: the weight file should only hold numpy arrays"
            ) from None


def load_weight_dict(path) -> dict:
    """Load ``{layer: {param: ndarray}}`` from a pickled-dict .npy file."""
    try:
        with open(path, "rb") as f:
            try:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = npy_format.read_array_header_2_0(f)
            except ValueError as e:
                raise ToolError(f"{path}: not a .npy file ({e})") from None
            if dtype != np.dtype(object) or shape != ():
                raise ToolError(
                    f"{path}: expected a pickled dict (0-d object array), found dtype {dtype} shape {shape}"
                )
            try:
                obj = _SafeUnpickler(f, encoding="latin1").load()
            except ToolError:
                raise
            except Exception as e:  # truncated or corrupt pickle
                raise ToolError(f"{path}: cannot read the pickled weights ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise ToolError(f"cannot read {path}: {e.strerror or e}") from None
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise ToolError(f"{path}: expected a dict of layers, found {type(obj).__name__}")
    return obj


def save_weight_dict(path, weights: dict) -> None:
    """Write a dict the same way the official file is stored (for tests)."""
    np.save(path, np.array(weights, dtype=object), allow_pickle=True)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
