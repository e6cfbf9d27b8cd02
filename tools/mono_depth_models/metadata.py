"""The ``metadata_props`` that the Rust crate reads to configure itself.

All values are strings. See ``tools/README.md`` for the table.
"""

from __future__ import annotations

import onnx

PREFIX = "mono_depth."

# key -> one-line meaning (used by the README and by tests)
KEYS = {
    "model": "model identifier, e.g. fcrn_resnet50_upproj, closed_form_luma",
    "input_layout": "NCHW or NHWC",
    "input_width": "input width in pixels",
    "input_height": "input height in pixels",
    "pixel_scale": "factor applied to 0-255 pixel values",
    "pixel_mean": "r,g,b subtracted after scaling",
    "pixel_std": "r,g,b divided after subtracting the mean",
    "color_order": "RGB or BGR channel order of the input",
    "output_units": "metres, or inverse_relative (needs scale/shift)",
    "depth_min": "smallest valid depth in metres",
    "depth_max": "largest valid depth in metres",
    "weights": "where the weights came from (official file + sha256, random seed, closed form)",
    "trained": "true only for converted official weights",
    "precision": "fp32, fp16 (weights stored as float16; compute is float32) or int8 (QDQ-quantised)",
}

FCRN_MODEL = "fcrn_resnet50_upproj"


def official_weights_text(sha256: str) -> str:
    return f"official NYU_ResNet-UpProj.npy sha256={sha256}"


def random_weights_text(seed: int) -> str:
    return f"random, seed {seed} \u2014 not a trained model"


CLOSED_FORM_TEXT = "closed form \u2014 not a trained model"


def fcrn_metadata(weights: str, trained: bool, precision: str) -> dict:
    from .architecture import INPUT_HEIGHT, INPUT_WIDTH

    return make(
        model=FCRN_MODEL,
        input_layout="NCHW",
        input_width=INPUT_WIDTH,
        input_height=INPUT_HEIGHT,
        pixel_scale="1",
        pixel_mean="0,0,0",
        pixel_std="1,1,1",
        color_order="RGB",
        output_units="metres",
        depth_min="0.5",
        depth_max="10",
        weights=weights,
        trained=trained,
        precision=precision,
    )


def make(**values) -> dict:
    """Prefix keys with ``mono_depth.``; booleans become ``true``/``false``."""
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        out[PREFIX + k] = str(v)
    return out


def read(model: onnx.ModelProto) -> dict:
    return {p.key: p.value for p in model.metadata_props}


def missing_keys(model: onnx.ModelProto) -> list:
    present = read(model)
    return [PREFIX + k for k in KEYS if PREFIX + k not in present]
