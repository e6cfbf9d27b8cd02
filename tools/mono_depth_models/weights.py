"""Checking a ``{layer: {param: array}}`` dict against the FCRN layout."""

from __future__ import annotations

import numpy as np

from . import architecture as arch
from .errors import ToolError


def _key(k) -> str:
    return k.decode("latin1") if isinstance(k, bytes) else str(k)


def validate(weights: dict, width_div: int = 1) -> dict:
    """Check every expected layer/param and shape; return a clean float32 dict.

    Raises ``ToolError`` naming every missing, extra, mis-shaped or non-finite
    tensor (all problems at once, so a broken file is diagnosed in one run).
    """
    expected = arch.expected_params(width_div)
    if not isinstance(weights, dict):
        raise ToolError(f"weights must be a dict of layers, found {type(weights).__name__}")
    layers = {_key(k): v for k, v in weights.items()}
    problems: list = []
    clean: dict = {}
    for layer in sorted(set(layers) - set(expected)):
        problems.append(f"unexpected layer '{layer}'")
    for layer, params in expected.items():
        if layer not in layers:
            problems.append(f"missing layer '{layer}' (expects {', '.join(params)})")
            continue
        got = layers[layer]
        if not isinstance(got, dict):
            problems.append(f"layer '{layer}': expected a dict of parameters, found {type(got).__name__}")
            continue
        got = {_key(k): v for k, v in got.items()}
        for p in sorted(set(got) - set(params)):
            problems.append(f"layer '{layer}': unexpected parameter '{p}'")
        clean[layer] = {}
        for p, shape in params.items():
            if p not in got:
                problems.append(f"layer '{layer}': missing parameter '{p}' of shape {shape}")
                continue
            a = got[p]
            if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
                problems.append(f"layer '{layer}' parameter '{p}': expected a float array, found {type(a).__name__}"
                                + (f" of {a.dtype}" if isinstance(a, np.ndarray) else ""))
                continue
            if tuple(a.shape) != tuple(shape):
                problems.append(f"layer '{layer}' parameter '{p}': shape {tuple(a.shape)}, expected {tuple(shape)}")
                continue
            if not np.all(np.isfinite(a)):
                problems.append(f"layer '{layer}' parameter '{p}': contains NaN or infinity")
                continue
            if p == "variance" and np.any(a < 0):
                problems.append(f"layer '{layer}' parameter 'variance': has negative values")
                continue
            clean[layer][p] = np.asarray(a, dtype=np.float32)
    if problems:
        shown = problems[:40]
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise ToolError(
            "the weights do not match the FCRN ResNet-50 up-projection layout:\n  "
            + "\n  ".join(shown) + more
        )
    return clean
