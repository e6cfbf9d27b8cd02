"""The exported graph computes the authors' network: numpy reference vs ONNX Runtime.

The reference (tests/numpy_reference.py) is an independent NHWC float64
transcription of the authors' TensorFlow code. It runs the reduced-width
network (every channel count / 8, same topology, same 228x304 -> 128x160).

Tolerance: max |ORT - reference| <= 3e-5 * max |reference| (ORT computes in
float32; the observed error is about 5e-6 of the output range).
"""

import unittest

import numpy as np
from onnx import TensorProto

from mono_depth_models import architecture as arch
from mono_depth_models.fcrn import _FcrnGraph, build_fcrn
from mono_depth_models.onnx_graph import tensor_info
from mono_depth_models.random_weights import random_fcrn_weights
from mono_depth_models.weights import validate
from tests import numpy_reference
from tests.helpers import run_ort, test_image

WIDTH_DIV = 8
RTOL_OF_RANGE = 3e-5
FP16_RTOL_OF_RANGE = 2e-2


class ForwardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.weights = validate(random_fcrn_weights(11, WIDTH_DIV), WIDTH_DIV)
        cls.image = test_image(12)
        cls.ref = numpy_reference.forward(cls.weights, cls.image, WIDTH_DIV)
        cls.ref_swapped = numpy_reference.forward(cls.weights, cls.image, WIDTH_DIV, swap_bc=True)
        cls.out = {}
        for fuse in (True, False):
            cls.out[fuse] = run_ort(build_fcrn(cls.weights, width_div=WIDTH_DIV, fuse_bn=fuse), cls.image)
        cls.tol = RTOL_OF_RANGE * np.abs(cls.ref).max()

    def test_reference_output_is_not_trivial(self):
        self.assertEqual(self.ref.shape, (1, 1, 128, 160))
        self.assertGreater(np.abs(self.ref).max(), 1.0)
        self.assertGreater((self.ref > 0).mean(), 0.2)

    def test_fused_export_matches_reference(self):
        err = np.abs(self.out[True] - self.ref).max()
        print(f"\n  fused:   max |ORT - ref| = {err:.3g} (tolerance {self.tol:.3g})", end=" ")
        self.assertLessEqual(err, self.tol)

    def test_unfused_export_matches_reference(self):
        err = np.abs(self.out[False] - self.ref).max()
        print(f"\n  unfused: max |ORT - ref| = {err:.3g} (tolerance {self.tol:.3g})", end=" ")
        self.assertLessEqual(err, self.tol)

    def test_comparison_would_catch_swapped_b_and_c(self):
        # The same check fails against a reference with B and C swapped.
        err = np.abs(self.out[True] - self.ref_swapped).max()
        self.assertGreater(err, 100 * self.tol)

    def test_fp16_variant_stays_close_to_fp32(self):
        out16 = run_ort(build_fcrn(self.weights, width_div=WIDTH_DIV, fp16=True), self.image)
        err = np.abs(out16 - self.out[True]).max()
        tol = FP16_RTOL_OF_RANGE * np.abs(self.out[True]).max()
        print(f"\n  fp16 vs fp32: max diff {err:.3g} (tolerance {tol:.3g})", end=" ")
        self.assertEqual(out16.dtype, np.float32)
        self.assertLessEqual(err, tol)


class InterleaveTest(unittest.TestCase):
    """A/B/C/D land at (2i,2j), (2i+1,2j), (2i,2j+1), (2i+1,2j+1)."""

    def unpool_model(self, fuse):
        # zero kernels and biases 1, 2, 3, 4 for A, B, C, D; identity BN
        u = arch.blocks(64)[-2].branch2  # layer16x_br2 with 2 -> 1 channels
        w = {}
        for value, spec in zip((1.0, 2.0, 3.0, 4.0), u.convs):
            w[spec.name] = {"weights": np.zeros(spec.weight_shape, np.float32),
                            "biases": np.full(spec.cout, value, np.float32)}
        c = u.convs[0].cout
        w[u.bn] = {"scale": np.ones(c, np.float32), "offset": np.zeros(c, np.float32),
                   "mean": np.zeros(c, np.float32), "variance": np.full(c, 1 - arch.BN_EPSILON, np.float32)}
        g = _FcrnGraph(w, fuse_bn=fuse, fp16=False)
        y = g.unpool("x", u)
        g.g.node("Identity", [y], output="y")
        cin = u.convs[0].cin
        return g.g.model([tensor_info("x", TensorProto.FLOAT, [1, cin, 3, 2])],
                         [tensor_info("y", TensorProto.FLOAT, [1, c, 6, 4])], "unpool")

    def test_positions(self):
        want = np.tile(np.array([[1.0, 3.0], [2.0, 4.0]]), (3, 2))
        for fuse in (True, False):
            model = self.unpool_model(fuse)
            cin = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
            y = run_ort(model, np.zeros((1, cin, 3, 2), np.float32))
            np.testing.assert_allclose(y[0, 0], want, atol=1e-6, err_msg=f"fuse={fuse}")

    def test_tensorflow_interleave_positions_in_reference(self):
        a, b, c, d = (np.full((1, 2, 2, 1), v, np.float64) for v in (1, 2, 3, 4))
        i = numpy_reference.ReferenceFCRN.interleave
        y = i([i([a, b], axis=1), i([c, d], axis=1)], axis=2)
        np.testing.assert_array_equal(y[0, :2, :2, 0], [[1, 3], [2, 4]])


if __name__ == "__main__":
    unittest.main()
