"""Small shared test utilities (no model math here)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TOOLS_DIR = Path(__file__).resolve().parent.parent


def ort_session(model_or_path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def run_ort(model_or_path, image):
    s = ort_session(model_or_path)
    return s.run(None, {s.get_inputs()[0].name: image})[0]


def test_image(seed, shape=(1, 3, 228, 304)):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def run_cli(*args, timeout=300):
    """Run ``python -m mono_depth_models ARGS`` the way the xtask does (cwd = tools)."""
    return subprocess.run(
        [sys.executable, "-m", "mono_depth_models", *map(str, args)],
        cwd=TOOLS_DIR, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(TOOLS_DIR)},
    )
