"""``build-test-models``: every file, its contract, metadata, and the FCRN cost."""

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
from onnx import external_data_helper

from mono_depth_models import metadata
from mono_depth_models.stats import count
from tests.helpers import ort_session, run_cli, run_ort, test_image

VALID = [
    "fcrn_random_full.onnx", "fcrn_random_small.onnx", "fcrn_random_small_fp16.onnx",
    "closed_form.onnx", "closed_form_nhwc.onnx", "external/closed_form.onnx", "closed_form_dynamic_batch.onnx",
    "closed_form_dynamic.onnx", "inverse_relative.onnx",
    "depth_anything_v2_tiny_metric.onnx",
    "broken_rank.onnx", "broken_int_input.onnx", "broken_dynamic.onnx", "broken_two_outputs.onnx",
    "broken_huge_input.onnx",
]
# Valid models without the crate's metadata, as published files come.
BARE = ["depth_anything_v2_tiny.onnx", "depth_anything_v2_tiny_image.onnx"]
UNPARSEABLE = ["broken_truncated.onnx", "broken_not_onnx.onnx"]
QUANTIZED = ["fcrn_random_small_int8.onnx"]
PUBLISHED_PARAMS = 63.6e6
PUBLISHED_MACS = 17e9


def luma_formula(image_nchw):
    """depth[i,j] = 0.5 + mean of (0.02 R + 0.01 G + 0.005 B) over the 2x2 block, in float64."""
    x = image_nchw.astype(np.float64)
    total = np.zeros((x.shape[2] // 2, x.shape[3] // 2))
    for di in (0, 1):
        for dj in (0, 1):
            px = x[0, :, di::2, dj::2]
            total += 0.02 * px[0] + 0.01 * px[1] + 0.005 * px[2]
    return (0.5 + total / 4)[None, None]


def shape_of(value_info):
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


class TestModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.result = run_cli("build-test-models", "--out", cls.dir)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def load(self, name):
        return onnx.load(str(self.dir / name))

    def test_command_and_manifest(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        manifest = json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
        self.assertEqual(set(manifest), set(VALID + BARE + UNPARSEABLE + QUANTIZED))
        for name, desc in manifest.items():
            self.assertTrue((self.dir / name).is_file(), name)
            self.assertIsInstance(desc, str)
            self.assertNotIn("\n", desc)

    def test_every_valid_model_has_metadata_opset_and_ir_version(self):
        for name in VALID:
            model = self.load(name)
            self.assertEqual(metadata.missing_keys(model), [], name)
            self.assertEqual(model.ir_version, 8, name)
            self.assertEqual([(o.domain, o.version) for o in model.opset_import], [("", 17)], name)
            onnx.checker.check_model(model)
            meta = metadata.read(model)
            self.assertEqual(meta["mono_depth.trained"], "false", name)
        for name in BARE:
            model = self.load(name)
            self.assertEqual([k for k in metadata.read(model) if k.startswith(metadata.PREFIX)], [], name)
            self.assertEqual(model.ir_version, 8, name)
            onnx.checker.check_model(model)

    def test_fcrn_metadata(self):
        for name, precision in (("fcrn_random_full.onnx", "fp32"), ("fcrn_random_small_fp16.onnx", "fp16")):
            meta = metadata.read(self.load(name))
            self.assertEqual(meta["mono_depth.model"], "fcrn_resnet50_upproj")
            self.assertEqual((meta["mono_depth.input_width"], meta["mono_depth.input_height"]), ("304", "228"))
            self.assertEqual(meta["mono_depth.input_layout"], "NCHW")
            self.assertEqual((meta["mono_depth.pixel_scale"], meta["mono_depth.pixel_mean"],
                              meta["mono_depth.pixel_std"]), ("1", "0,0,0", "1,1,1"))
            self.assertEqual(meta["mono_depth.color_order"], "RGB")
            self.assertEqual(meta["mono_depth.output_units"], "metres")
            self.assertEqual((meta["mono_depth.depth_min"], meta["mono_depth.depth_max"]), ("0.5", "10"))
            self.assertEqual(meta["mono_depth.precision"], precision)
        self.assertEqual(metadata.read(self.load("fcrn_random_full.onnx"))["mono_depth.weights"],
                         "random, seed 0 \u2014 not a trained model")
        self.assertEqual(metadata.read(self.load("fcrn_random_small.onnx"))["mono_depth.weights"],
                         "random, seed 1 \u2014 not a trained model")

    def test_fcrn_io_and_outputs(self):
        img = test_image(3)
        for name in ("fcrn_random_full.onnx", "fcrn_random_small.onnx", "fcrn_random_small_fp16.onnx"):
            model = self.load(name)
            self.assertEqual([i.name for i in model.graph.input], ["image"])
            self.assertEqual(shape_of(model.graph.input[0]), [1, 3, 228, 304])
            self.assertEqual([o.name for o in model.graph.output], ["depth"])
            self.assertEqual(shape_of(model.graph.output[0]), [1, 1, 128, 160])
            out = run_ort(self.dir / name, img)
            self.assertEqual(out.shape, (1, 1, 128, 160), name)
            self.assertTrue(np.isfinite(out).all(), name)
            self.assertGreaterEqual(out.min(), 0.0, name)
            self.assertGreater(out.max(), 0.0, name)

    def test_small_int8_model_is_qdq_with_int8_metadata_and_runs(self):
        model = self.load("fcrn_random_small_int8.onnx")
        ops = {n.op_type for n in model.graph.node}
        self.assertIn("QuantizeLinear", ops)
        self.assertIn("DequantizeLinear", ops)
        meta = metadata.read(model)
        self.assertEqual(meta["mono_depth.precision"], "int8")
        self.assertEqual(meta["mono_depth.model"], "fcrn_resnet50_upproj")
        out = run_ort(self.dir / "fcrn_random_small_int8.onnx", test_image(3))
        self.assertEqual(out.shape, (1, 1, 128, 160))
        self.assertTrue(np.isfinite(out).all())

    def test_full_model_cost_matches_the_paper(self):
        c = count(self.load("fcrn_random_full.onnx"))
        print(f"\n  full FCRN: {c['parameters']:,} parameters, {c['macs']:,} multiply-adds at 228x304", end=" ")
        self.assertLess(abs(c["parameters"] / PUBLISHED_PARAMS - 1), 0.02)
        self.assertLess(abs(c["macs"] / PUBLISHED_MACS - 1), 0.05)
        r = run_cli("stats", self.dir / "fcrn_random_full.onnx")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{c['parameters']:,}", r.stdout)
        self.assertIn(f"{c['macs']:,}", r.stdout)

    def test_closed_form_is_exact(self):
        rng = np.random.default_rng(5)
        imgs = [rng.uniform(0, 255, (1, 3, 256, 320)).astype(np.float32),
                rng.integers(0, 256, (1, 3, 256, 320)).astype(np.float32),
                np.full((1, 3, 256, 320), 255, np.float32), np.zeros((1, 3, 256, 320), np.float32)]
        for img in imgs:
            want = luma_formula(img)
            got = run_ort(self.dir / "closed_form.onnx", img)
            self.assertEqual(got.shape, (1, 1, 128, 160))
            self.assertLessEqual(np.abs(got - want).max(), 1e-5)
            got_nhwc = run_ort(self.dir / "closed_form_nhwc.onnx", np.ascontiguousarray(img.transpose(0, 2, 3, 1)))
            self.assertLessEqual(np.abs(got_nhwc - want).max(), 1e-5)
        # one value by hand: R=100, G=50, B=20 -> 0.5 + 2 + 0.5 + 0.1
        img = np.empty((1, 3, 256, 320), np.float32)
        img[0, 0], img[0, 1], img[0, 2] = 100, 50, 20
        self.assertAlmostEqual(float(run_ort(self.dir / "closed_form.onnx", img)[0, 0, 7, 9]), 3.1, places=5)
        meta = metadata.read(self.load("closed_form.onnx"))
        self.assertEqual(meta["mono_depth.model"], "closed_form_luma")
        self.assertEqual(meta["mono_depth.closed_form"], "0.5 + avg2x2(0.02*R + 0.01*G + 0.005*B)")
        self.assertEqual((meta["mono_depth.input_width"], meta["mono_depth.input_height"]), ("320", "256"))
        self.assertEqual(metadata.read(self.load("closed_form_nhwc.onnx"))["mono_depth.input_layout"], "NHWC")
        self.assertEqual(shape_of(self.load("closed_form_nhwc.onnx").graph.input[0]), [1, 256, 320, 3])

    def test_external_data_model(self):
        path = self.dir / "external" / "closed_form.onnx"
        data = self.dir / "external" / "closed_form.data"
        bare = onnx.load(str(path), load_external_data=False)
        self.assertEqual(bare.ir_version, 8)
        inits = list(bare.graph.initializer)
        self.assertEqual([t.name for t in inits], ["luma.weight", "offset"])
        for t in inits:
            self.assertTrue(external_data_helper.uses_external_data(t), t.name)
            self.assertEqual(len(t.raw_data), 0, t.name)
            self.assertEqual({e.key: e.value for e in t.external_data}["location"], "closed_form.data", t.name)
        self.assertTrue(data.is_file())
        self.assertEqual(data.stat().st_size, 4 * (3 + 1))  # luma.weight [1,3,1,1] and offset, float32
        # loaded with its data it is closed_form.onnx, metadata included
        full, inline = self.load("external/closed_form.onnx"), self.load("closed_form.onnx")
        self.assertEqual(metadata.read(full), metadata.read(inline))
        for a, b in zip(full.graph.initializer, inline.graph.initializer):
            np.testing.assert_array_equal(onnx.numpy_helper.to_array(a), onnx.numpy_helper.to_array(b))
        # ONNX Runtime finds the data from the model's path and gives the same output
        img = test_image(11, (1, 3, 256, 320))
        got = run_ort(path, img)
        np.testing.assert_array_equal(got, run_ort(self.dir / "closed_form.onnx", img))
        self.assertLessEqual(np.abs(got - luma_formula(img)).max(), 1e-5)

    def test_dynamic_batch_model(self):
        model = self.load("closed_form_dynamic_batch.onnx")
        self.assertEqual(shape_of(model.graph.input[0]), ["batch", 3, 256, 320])
        self.assertEqual(shape_of(model.graph.output[0]), ["batch", 1, 128, 160])
        dynamic, fixed = metadata.read(model), metadata.read(self.load("closed_form.onnx"))
        # Each file's Core ML cache key is made from its own content.
        self.assertNotEqual(dynamic.pop("COREML_CACHE_KEY"), fixed.pop("COREML_CACHE_KEY"))
        self.assertEqual(dynamic, fixed)
        img = test_image(12, (1, 3, 256, 320))
        np.testing.assert_array_equal(run_ort(self.dir / "closed_form_dynamic_batch.onnx", img),
                                      run_ort(self.dir / "closed_form.onnx", img))
        batch = test_image(13, (3, 3, 256, 320))
        got = run_ort(self.dir / "closed_form_dynamic_batch.onnx", batch)
        self.assertEqual(got.shape, (3, 1, 128, 160))
        for k in range(3):
            self.assertLessEqual(np.abs(got[k:k + 1] - luma_formula(batch[k:k + 1])).max(), 1e-5, k)

    def test_closed_form_dynamic_takes_any_even_size(self):
        self.assertEqual(shape_of(self.load("closed_form_dynamic.onnx").graph.input[0]), [1, 3, "height", "width"])
        for h, w in ((256, 320), (392, 518), (28, 42)):
            img = test_image(h + w, (1, 3, h, w))
            got = run_ort(self.dir / "closed_form_dynamic.onnx", img)
            self.assertEqual(got.shape, (1, 1, h // 2, w // 2))
            self.assertLessEqual(np.abs(got - luma_formula(img)).max(), 1e-5, (h, w))

    def test_inverse_relative(self):
        img = test_image(8, (1, 3, 256, 320))
        x = img.astype(np.float64).sum(axis=1) / 765
        want = 0.1 + 0.25 * (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2])
        got = run_ort(self.dir / "inverse_relative.onnx", img)
        self.assertLessEqual(np.abs(got[:, 0] - want).max(), 1e-6)
        self.assertEqual(metadata.read(self.load("inverse_relative.onnx"))["mono_depth.output_units"],
                         "inverse_relative")

    def test_broken_models_load_in_ort_but_break_the_contract(self):
        for name in ("broken_rank.onnx", "broken_int_input.onnx", "broken_dynamic.onnx", "broken_two_outputs.onnx",
                     "broken_huge_input.onnx"):
            ort_session(self.dir / name)  # ONNX Runtime accepts them
        self.assertEqual(shape_of(self.load("broken_huge_input.onnx").graph.input[0]), [1, 3, 100_000, 100_000])
        self.assertEqual(len(shape_of(self.load("broken_rank.onnx").graph.input[0])), 3)
        self.assertEqual(self.load("broken_int_input.onnx").graph.input[0].type.tensor_type.elem_type,
                         onnx.TensorProto.UINT8)
        self.assertEqual(shape_of(self.load("broken_dynamic.onnx").graph.input[0])[1:], ["channels", "height", "width"])
        self.assertEqual(len(self.load("broken_two_outputs.onnx").graph.output), 2)
        # and they do run (so only the crate's own checks can reject them)
        s = ort_session(self.dir / "broken_dynamic.onnx")
        self.assertEqual(s.run(None, {"image": test_image(1, (1, 3, 64, 80))})[0].shape, (1, 1, 32, 40))

    def test_unparseable_models_fail_to_load(self):
        for name in UNPARSEABLE:
            with self.assertRaises(Exception, msg=name):
                onnx.load(str(self.dir / name))
            with self.assertRaises(Exception, msg=name):
                ort_session(self.dir / name)
        full = (self.dir / "fcrn_random_small.onnx").read_bytes()
        self.assertEqual((self.dir / "broken_truncated.onnx").read_bytes(), full[: len(full) // 2])


if __name__ == "__main__":
    unittest.main()


class OnlySomeModelsTest(unittest.TestCase):
    """``--only``: a copy of the tools without the repository (no sample frames) writes the named models."""

    @classmethod
    def setUpClass(cls):
        import shutil
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        tools = root / "tools"
        shutil.copytree(Path(__file__).resolve().parents[1] / "mono_depth_models", tools / "mono_depth_models")
        cls.tools = tools
        cls.full = root / "full"
        cls.some = root / "some"
        assert run_cli("build-test-models", "--out", cls.full, "--only", "closed_form.onnx").returncode == 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_copy(self, *args):
        import os
        import subprocess
        import sys
        return subprocess.run([sys.executable, "-m", "mono_depth_models", *map(str, args)], cwd=self.tools,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(self.tools)})

    def test_the_named_models_are_written_without_sample_frames(self):
        self.assertFalse((self.tools.parent / "assets").exists())
        r = self.run_copy("build-test-models", "--out", self.some, "--only", "closed_form.onnx,inverse_relative.onnx")
        self.assertEqual(r.returncode, 0, r.stderr)
        manifest = json.loads((self.some / "manifest.json").read_text(encoding="utf-8"))
        self.assertEqual(set(manifest), {"closed_form.onnx", "inverse_relative.onnx"})
        self.assertEqual(sorted(p.name for p in self.some.iterdir()),
                         ["closed_form.onnx", "inverse_relative.onnx", "manifest.json"])
        # The same bytes as the repository's own tools write.
        self.assertEqual((self.some / "closed_form.onnx").read_bytes(), (self.full / "closed_form.onnx").read_bytes())

    def test_an_unknown_name_is_an_error(self):
        r = self.run_copy("build-test-models", "--out", self.some.with_name("unknown"), "--only",
                          "closed_form.onnx,nope.onnx")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no test model named nope.onnx", r.stderr)

    def test_the_int8_model_still_needs_the_sample_frames(self):
        r = self.run_copy("build-test-models", "--out", self.some.with_name("int8"), "--only",
                          "fcrn_random_small_int8.onnx")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("PNG frames, need 2 for calibration", r.stderr)
