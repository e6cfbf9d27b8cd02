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
    "output_units": "metres, inverse_relative (needs scale/shift) or affine_inverse (aligned per frame from anchors)",
    "depth_min": "smallest valid depth in metres",
    "depth_max": "largest valid depth in metres",
    "weights": "where the weights came from (weight file name, size and sha256, official only if the hash "
               "is one recorded from the authors' file; random seed; closed form)",
    "trained": "true for FCRN weight files converted by convert/fetch (see weights for whether the file "
               "is verified as the authors'), false for random and closed-form models",
    "precision": "fp32, fp16 (weights stored as float16; compute is float32) or int8 (QDQ-quantised)",
}

# Keys only some models have (the crate has a fallback for each).
OPTIONAL_KEYS = {
    "focal_px": "training camera's focal length in pixels of the model input; the crate scales metric "
                "depth by the frame camera's focal length (at the input) over this",
    "input_multiple": "for inputs with dynamic height and width: both sides are made multiples of this "
                      "(default 14, the ViT patch)",
    "input_long_side": "for inputs with dynamic height and width: the long side in pixels (default 518); "
                       "the short side follows the frame's aspect",
}

FCRN_MODEL = "fcrn_resnet50_upproj"

# NYU Depth v2's Kinect colour camera (the dataset toolbox's camera_params.m):
# fx 518.858, fy 519.470 at 640x480. FCRN halves the images to 320x240 and
# crops 304x228 (Laina et al. 2016, section 4.1), which keeps the focal length
# at half: 259.43 x 259.73 px, geometric mean 259.58.
NYU_FX, NYU_FY = 518.8579, 519.4696
FCRN_FOCAL_PX = round(((NYU_FX / 2) * (NYU_FY / 2)) ** 0.5, 2)


# sha256 (lower-case hex) of the FCRN authors' weight files -> where the hash
# was recorded. The authors publish no hash of their own; OpenVINO's Open
# Model Zoo recorded this one from the authors' NYU_FCRN-checkpoint.zip in
# 2020 (models/public/fcrn-dp-nyu-depth-v2-tf/model.yml) and keeps the file
# on its mirror, so a match means the file is byte for byte the one the
# authors published. No hash of NYU_ResNet-UpProj.npy is known: a .npy is
# always "user-supplied". Add an entry only for a hash recorded from the
# authors' own file.
OFFICIAL_CHECKPOINT_SHA256 = "9d97ed165c4a5b3f085eb83b8814de1e883c6348da60da4b2568ddd64bb2d5c4"
OFFICIAL_SHA256: dict = {
    OFFICIAL_CHECKPOINT_SHA256: "sha256 recorded from the authors' NYU_FCRN-checkpoint.zip by OpenVINO's "
                                "Open Model Zoo, fcrn-dp-nyu-depth-v2-tf/model.yml",
}


def is_official(sha256: str) -> bool:
    return sha256.lower() in OFFICIAL_SHA256


def weights_file_text(name: str, size: int, sha256: str) -> str:
    """What is known about a converted weight file: name, size, hash, and
    "official" only when the hash is one in ``OFFICIAL_SHA256``."""
    if is_official(sha256):
        return (f"official FCRN weights {name}, {size} bytes, sha256 {sha256}; "
                f"matches the authors' file ({OFFICIAL_SHA256[sha256.lower()]})")
    return (f"user-supplied FCRN weights {name}, {size} bytes, sha256 {sha256}; "
            "not verified as the authors' file")


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
        focal_px=FCRN_FOCAL_PX,
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
