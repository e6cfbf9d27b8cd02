"""``fetch --model NAME``: the catalogue, a Depth Anything V2 download from
a local stand-in of its address, the size check, validation by one run,
and the copy with the crate's metadata."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from mono_depth_models import catalogue, metadata
from mono_depth_models.errors import ToolError
from mono_depth_models.npy_io import sha256_file
from mono_depth_models.onnx_graph import GraphBuilder, save, tensor_info
from mono_depth_models.test_models import depth_anything_tiny
from tests.helpers import run_cli, run_ort
from tests.serving import serve, serve_with
from tests.test_depth_anything import imagenet_input


def pixel_model(weight: float, offset: float = 0.0, nan: bool = False) -> onnx.ModelProto:
    """Depth Anything's signature (``image`` [1,3,h,w] -> ``depth`` [1,h,w])
    computing ``offset + weight * (R + G + B)``, or NaN."""
    g = GraphBuilder()
    y = g.node("Conv", ["image", g.weight("w", np.full((1, 3, 1, 1), weight, np.float32))], name="sum",
               kernel_shape=[1, 1])
    y = g.node("Add", [y, g.weight("b", np.array(offset, np.float32))], name="offset")
    if nan:
        y = g.node("Div", [g.node("Sub", [y, y], name="zero"), g.node("Sub", [y, y], name="zero2")], name="nan")
    g.node("Squeeze", [y, g.const("axis", np.array([1], np.int64))], name="squeeze", output="depth")
    return g.model([tensor_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])],
                   [tensor_info("depth", TensorProto.FLOAT, [1, "height", "width"])], "stand_in", None)


class Catalogue(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.served = cls.dir / "served"
        cls.served.mkdir()
        save(depth_anything_tiny(2, "pixel_values"), cls.served / "model.onnx")
        save(depth_anything_tiny(3, "image", max_depth=20.0), cls.served / "metric.onnx")
        for name, model in {"zeros.onnx": pixel_model(0.0), "constant.onnx": pixel_model(0.0, 5.0),
                            "nan.onnx": pixel_model(1.0, nan=True), "too_far.onnx": pixel_model(10.0, 30.0)}.items():
            save(model, cls.served / name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_entry_says_where_it_comes_from_and_that_it_is_unchecked(self):
        self.assertEqual(list(catalogue.CATALOGUE), ["fcrn", "depth-anything-v2-small",
                                                     "depth-anything-v2-metric-indoor-small",
                                                     "depth-anything-v2-metric-outdoor-small"])
        for e in catalogue.CATALOGUE.values():
            self.assertTrue(e.page.startswith("https://"), e.name)
            self.assertIn("not checked", e.checked)
            self.assertTrue(e.licence and e.files, e.name)
        small = catalogue.CATALOGUE["depth-anything-v2-small"]
        self.assertEqual(small.file("fp32").url,
                         "https://huggingface.co/onnx-community/depth-anything-v2-small/resolve/main/onnx/model.onnx")
        self.assertEqual([f.precision for f in small.files], ["fp32", "fp16", "int8", "q4"])
        # The training focal lengths follow from the datasets' cameras.
        self.assertAlmostEqual(catalogue.HYPERSIM_FOCAL_518, 512 / np.tan(np.pi / 6) * 518 / 768, places=1)
        self.assertAlmostEqual(catalogue.VKITTI_FOCAL_518, 725.0087 * 518 / 375, places=1)
        table = run_cli("catalogue", "--markdown")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertEqual(sum(line.startswith("| `") for line in table.stdout.splitlines()), 4)

    def test_a_download_is_validated_and_copied_with_the_crates_metadata(self):
        dest = self.dir / "fetched"
        with serve_with(self.served) as (base, server):
            cat = catalogue.replace_url("depth-anything-v2-small", f"{base}/model.onnx")
            out = catalogue.fetch_model("depth-anything-v2-small", dest, catalogue=cat)
            self.assertEqual(out, dest / "depth-anything-v2-small.onnx")
            # A second run uses the download it has.
            catalogue.fetch_model("depth-anything-v2-small", dest, catalogue=cat)
            self.assertEqual([r for r in server.requests if r[0] == "GET"], [("GET", "/model.onnx")])
        meta = metadata.read(onnx.load(str(out)))
        self.assertEqual(meta["mono_depth.output_units"], "affine_inverse")
        self.assertEqual(meta["mono_depth.trained"], "true")
        self.assertEqual((meta["mono_depth.input_multiple"], meta["mono_depth.input_long_side"]), ("14", "518"))
        sha = sha256_file(self.served / "model.onnx")
        self.assertIn(f"{base}/model.onnx, {(self.served / 'model.onnx').stat().st_size} bytes, sha256 {sha}",
                      meta["mono_depth.weights"])
        self.assertNotIn("mono_depth.focal_px", meta)
        # The network is unchanged.
        x = imagenet_input(1, 42, 56)
        np.testing.assert_array_equal(run_ort(out, x), run_ort(self.served / "model.onnx", x))

    def test_a_file_given_by_hand_gets_the_metric_metadata_and_focal_length(self):
        dest = self.dir / "by_hand"
        out = catalogue.fetch_model("depth-anything-v2-metric-indoor-small", dest,
                                    file=str(self.served / "metric.onnx"))
        meta = metadata.read(onnx.load(str(out)))
        self.assertEqual((meta["mono_depth.output_units"], meta["mono_depth.depth_max"]), ("metres", "20.0"))
        self.assertEqual(float(meta["mono_depth.focal_px"]), catalogue.HYPERSIM_FOCAL_518)
        self.assertIn("given by hand", meta["mono_depth.weights"])
        # Nothing is downloaded for it, and without --file it says how.
        with self.assertRaisesRegex(ToolError, "--file"):
            catalogue.fetch_model("depth-anything-v2-metric-outdoor-small", dest)

    def test_outputs_that_cannot_be_depth_are_refused_with_the_reason(self):
        indoor = catalogue.CATALOGUE["depth-anything-v2-metric-indoor-small"]
        for name, why in (("zeros.onnx", "all zeros"), ("constant.onnx", "constant"),
                          ("nan.onnx", "NaN or infinity"), ("too_far.onnx", "leaves 0..20.0 m")):
            with self.assertRaisesRegex(ToolError, why, msg=name):
                catalogue.validate(self.served / name, indoor)
        # The wrong signature says what was expected.
        with self.assertRaisesRegex(ToolError, r"expected one float input \[batch,3,height,width\]"):
            catalogue.validate(self.fcrn_like(), indoor)
        self.assertFalse((self.dir / "refused").exists())

    def fcrn_like(self):
        g = GraphBuilder()
        y = g.node("Conv", ["image", g.weight("w", np.ones((1, 3, 1, 1), np.float32))], name="c", kernel_shape=[1, 1],
                   output="depth")
        path = self.dir / "rank4_out.onnx"
        save(g.model([tensor_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                     [tensor_info(y, TensorProto.FLOAT, [1, 1, 8, 8])], "rank4", None), path)
        return path

    def test_a_refused_download_is_removed_so_the_next_run_fetches_again(self):
        dest = self.dir / "refused_download"
        with serve(self.served) as base:
            cat = catalogue.replace_url("depth-anything-v2-small", f"{base}/zeros.onnx")
            with self.assertRaisesRegex(ToolError, "all zeros"):
                catalogue.fetch_model("depth-anything-v2-small", dest, catalogue=cat)
        self.assertEqual(list((dest / "downloads").iterdir()), [])
        self.assertFalse((dest / "depth-anything-v2-small.onnx").exists())

    def test_a_size_far_from_the_pages_is_refused_before_downloading(self):
        from dataclasses import replace

        dest = self.dir / "wrong_size"
        real = (self.served / "model.onnx").stat().st_size
        with serve(self.served) as base:
            cat = catalogue.replace_url("depth-anything-v2-small", f"{base}/model.onnx")
            entry = cat["depth-anything-v2-small"]
            files = (replace(entry.files[0], approx_bytes=real * 2),) + entry.files[1:]
            cat = {**cat, "depth-anything-v2-small": replace(entry, files=files)}
            with self.assertRaisesRegex(ToolError, "its page gives about"):
                catalogue.fetch_model("depth-anything-v2-small", dest, catalogue=cat)
        self.assertEqual(list((dest / "downloads").iterdir()), [])

    def test_the_command_line_fetches_a_catalogue_model(self):
        dest = self.dir / "cli"
        with serve(self.served) as base:
            r = run_cli("fetch", "--model", "depth-anything-v2-small", "--url", f"{base}/model.onnx", "--dest", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue((dest / "depth-anything-v2-small.onnx").is_file())
        r = run_cli("fetch", "--model", "nope", "--dest", dest)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no model named 'nope'", r.stderr)


if __name__ == "__main__":
    unittest.main()
