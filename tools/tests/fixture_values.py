"""Values of the committed TensorFlow checkpoint fixtures (``fixtures/``).

``fixtures/make_tf_checkpoint.py`` writes them with TensorFlow; the tests
read the fixtures without it and compare against these."""

import numpy as np

# seed of numpy_reference.synthetic_weights(seed, width_div=16) in
# fixtures/NYU_FCRN-checkpoint_w16.zip
W16_SEED = 11

# One variable per numeric dtype a checkpoint of weights can hold, with
# negative, fractional and extreme values, a scalar and a 3-d shape.
DTYPE_VALUES = {
    "v_float32": np.array([[1.5, -2.25, 3.0e-8], [np.pi, -0.0, 65504.0]], np.float32),
    "v_float16": np.array([0.5, -1.0, 65504.0, 6.1e-5], np.float16),
    "v_float64": np.array([1.0 / 3.0, -1e300], np.float64),
    "v_int8": np.array([-128, 0, 127], np.int8),
    "v_uint8": np.array([0, 200, 255], np.uint8),
    "v_int16": np.array([-32768, 12345], np.int16),
    "v_int32": np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 12,
    "v_int64": np.array([-(2 ** 62), 2 ** 40], np.int64),
    "v_bool": np.array([True, False, True]),
    "v_scalar": np.array(2.5, np.float32),
}


def decoys() -> dict:
    """Integer variables without a layer scope, as the official checkpoint has
    beside the weights (the interleaving op's ``x_0``, ``x_1``) and a counter."""
    return {
        "x_0": np.array([0, 2, 1, 3], np.int32),
        "x_1": np.array([1, 0, 3, 2], np.int32),
        "global_step": np.array(0, np.int64),
    }
