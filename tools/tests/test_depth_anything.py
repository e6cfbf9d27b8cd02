"""The Depth Anything V2 graph: the Small variant's parameters, and the test
models' inputs, outputs and sizes."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx

from mono_depth_models import depth_anything as da
from mono_depth_models import metadata
from mono_depth_models.test_models import depth_anything_tiny
from tests.helpers import ort_session

# Depth Anything V2 Small as its authors publish it: "24.8M" parameters.
PUBLISHED_SMALL_PARAMS = 24.8e6


def imagenet_input(seed, h, w, batch=1):
    """A random 0-255 RGB frame normalised as the reference preprocessing does."""
    rgb = np.random.default_rng(seed).uniform(0, 255, (batch, 3, h, w))
    mean = np.array(da.IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = np.array(da.IMAGENET_STD).reshape(1, 3, 1, 1)
    return ((rgb / 255 - mean) / std).astype(np.float32)


def shape_of(value_info):
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


class SmallTest(unittest.TestCase):
    def test_parameter_count_is_the_published_one(self):
        n = da.parameter_count(da.SMALL)
        self.assertEqual(round(n / 1e5) * 1e5, PUBLISHED_SMALL_PARAMS, n)
        shapes = da.parameter_shapes(da.SMALL)
        self.assertEqual(shapes["pretrained.pos_embed"], (1, 1 + 37 * 37, 384))
        self.assertEqual(sum(k.endswith("attn.qkv.weight") for k in shapes), 12)
        self.assertEqual(shapes["pretrained.blocks.0.mlp.fc1.weight"], (4 * 384, 384))

    def test_the_graph_stores_every_parameter_inference_reads(self):
        model = da.build(da.random_weights(da.SMALL, 0), da.SMALL)
        # All but those inference never reads are in the file: the mask token
        # (training only) and the last fusion block's first residual unit
        # (that block has no skip input to refine).
        shapes = da.parameter_shapes(da.SMALL)
        unread = [k for k in shapes if k == "pretrained.mask_token" or ".refinenet4.resConfUnit1." in k]
        self.assertEqual(len(unread), 5)
        self.assertEqual(da.weight_count(model, da.SMALL),
                         da.parameter_count(da.SMALL) - sum(int(np.prod(shapes[k])) for k in unread))
        self.assertEqual(shape_of(model.graph.input[0]), ["batch_size", 3, "height", "width"])
        self.assertEqual(shape_of(model.graph.output[0]), ["batch_size", "height", "width"])


class TinyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        for name, model in {
            "pv": depth_anything_tiny(2, "pixel_values"),
            "image": depth_anything_tiny(2, "image"),
            "metric": depth_anything_tiny(3, "image", max_depth=20.0, with_metadata=True),
        }.items():
            onnx.save(model, str(cls.dir / f"{name}.onnx"))
        cls.sessions = {name: ort_session(cls.dir / f"{name}.onnx") for name in ("pv", "image", "metric")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_model(self, name, x):
        s = self.sessions[name]
        return s.run(None, {s.get_inputs()[0].name: x})[0]

    def test_names_follow_the_published_layouts(self):
        for name, (inp, out) in {"pv": ("pixel_values", "predicted_depth"), "image": ("image", "depth")}.items():
            s = self.sessions[name]
            self.assertEqual([i.name for i in s.get_inputs()], [inp])
            self.assertEqual([o.name for o in s.get_outputs()], [out])

    def test_output_has_the_input_size_at_any_multiple_of_14(self):
        for h, w in ((14, 14), (42, 56), (70, 98), (98, 70), (126, 168)):
            got = self.run_model("pv", imagenet_input(h * w, h, w))
            self.assertEqual(got.shape, (1, h, w))
            self.assertTrue(np.isfinite(got).all())

    def test_relative_output_is_positive_and_varies(self):
        got = self.run_model("pv", imagenet_input(1, 70, 98))
        self.assertGreaterEqual(got.min(), 0.0)
        self.assertGreater(got.mean(), 0.0)
        self.assertGreater(got.std(), 1e-3 * got.mean())
        # The frame decides the output: another frame gives another map.
        other = self.run_model("pv", imagenet_input(2, 70, 98))
        self.assertGreater(np.abs(got - other).max(), 1e-3 * got.mean())

    def test_both_layouts_compute_the_same_function(self):
        x = imagenet_input(3, 42, 56)
        np.testing.assert_array_equal(self.run_model("pv", x), self.run_model("image", x))

    def test_a_batch_is_each_frame_alone(self):
        x = imagenet_input(4, 42, 56, batch=2)
        got = self.run_model("pv", x)
        self.assertEqual(got.shape, (2, 42, 56))
        for k in range(2):
            np.testing.assert_allclose(got[k], self.run_model("pv", x[k:k + 1])[0], rtol=1e-5, atol=1e-6)

    def test_metric_output_lies_within_the_maximum_depth(self):
        got = self.run_model("metric", imagenet_input(5, 56, 70))
        self.assertEqual(got.shape, (1, 56, 70))
        self.assertGreater(got.min(), 0.0)
        self.assertLess(got.max(), 20.0)
        self.assertGreater(got.max() - got.min(), 1.0)  # the sigmoid is not saturated

    def test_metric_metadata_says_metres_and_imagenet(self):
        meta = metadata.read(onnx.load(str(self.dir / "metric.onnx")))
        self.assertEqual(meta["mono_depth.output_units"], "metres")
        self.assertEqual(meta["mono_depth.depth_max"], "20.0")
        self.assertEqual(float(meta["mono_depth.pixel_scale"]), 1 / 255)
        self.assertEqual(meta["mono_depth.pixel_mean"], "0.485,0.456,0.406")
        self.assertEqual(meta["mono_depth.pixel_std"], "0.229,0.224,0.225")
        self.assertEqual((meta["mono_depth.input_multiple"], meta["mono_depth.input_long_side"]), ("14", "518"))
        self.assertEqual(meta["mono_depth.trained"], "false")
        self.assertIn("not a trained model", meta["mono_depth.weights"])
        relative = da.crate_metadata(da.TINY, "w", trained=False)
        self.assertEqual(relative["mono_depth.output_units"], "affine_inverse")

    def test_seeds_give_different_weights_and_the_same_seed_the_same_bytes(self):
        a = depth_anything_tiny(2, "image").SerializeToString()
        self.assertEqual(a, depth_anything_tiny(2, "image").SerializeToString())
        self.assertNotEqual(a, depth_anything_tiny(4, "image").SerializeToString())


if __name__ == "__main__":
    unittest.main()
