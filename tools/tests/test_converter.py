"""Official-weight converter: synthetic .npy with the official names/shapes."""

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import onnx
from onnx import numpy_helper

from mono_depth_models import metadata
from mono_depth_models.convert import convert_npy
from mono_depth_models.errors import ToolError
from mono_depth_models.npy_io import load_weight_dict, save_weight_dict, sha256_file
from mono_depth_models.weights import validate
from tests import numpy_reference
from tests.helpers import run_cli, run_ort, test_image

EPS = 1e-4


def bn_of(conv):
    """Which batch-norm follows a conv, per the authors' fcrn.py/network.py."""
    if conv == "conv1":
        return "bn_conv1"
    if conv.startswith("res"):
        return "bn" + conv[3:]
    if conv == "layer1":
        return "layer1_BN"
    if conv == "ConvPred":
        return None
    return conv.rsplit("_", 1)[0] + "_BN"  # layer2x_Conv -> layer2x_BN, layer2x_br1_ConvA -> layer2x_br1_BN


def initializers(path):
    model = onnx.load(str(path))
    return model, {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


class ConverterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = Path(cls.tmp.name)
        cls.weights = numpy_reference.synthetic_weights(seed=3)
        cls.npy = d / "NYU_ResNet-UpProj.npy"
        save_weight_dict(cls.npy, cls.weights)
        cls.sha = sha256_file(cls.npy)
        # `fetch --npy` writes fcrn.onnx (fused fp32), fcrn_fp16.onnx and fcrn_int8.onnx
        cls.fetch = run_cli("fetch", "--npy", cls.npy, "--dest", d / "models")
        cls.unfused = d / "fcrn_unfused.onnx"
        cls.convert = run_cli("convert", "--npy", cls.npy, "--out", cls.unfused, "--unfused")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_cli_succeeded(self):
        for r in (self.fetch, self.convert):
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.sha, self.fetch.stderr)

    def test_unfused_initializers_hold_each_tensor_in_onnx_layout(self):
        self.assertEqual(self.convert.returncode, 0, self.convert.stderr)
        model, inits = initializers(self.unfused)
        expected = set()
        for layer, params in self.weights.items():
            for p, a in params.items():
                if p == "weights":
                    name, want = f"{layer}.weight", a.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                elif p == "biases":
                    name, want = f"{layer}.bias", a
                else:
                    name, want = f"{layer}.{p}", a  # BN scale/offset/mean/variance
                expected.add(name)
                self.assertIn(name, inits)
                np.testing.assert_array_equal(inits[name], want, err_msg=name)
        self.assertEqual(set(inits), expected)
        bns = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
        self.assertEqual(len(bns), sum(1 for p in self.weights.values() if "variance" in p))
        for n in bns:
            eps = next(a.f for a in n.attribute if a.name == "epsilon")
            self.assertAlmostEqual(eps, EPS, places=9)

    def test_fused_initializers_fold_the_batch_norm(self):
        self.assertEqual(self.fetch.returncode, 0, self.fetch.stderr)
        _, inits = initializers(Path(self.tmp.name) / "models" / "fcrn.onnx")
        convs = [l for l, p in self.weights.items() if "weights" in p]
        self.assertEqual(set(inits), {f"{c}.{k}" for c in convs for k in ("weight", "bias")})
        for conv in convs:
            w = self.weights[conv]["weights"].astype(np.float64).transpose(3, 2, 0, 1)
            b = self.weights[conv].get("biases", np.zeros(w.shape[0])).astype(np.float64)
            bn = bn_of(conv)
            if bn is not None:
                p = self.weights[bn]
                k = p["scale"] / np.sqrt(p["variance"].astype(np.float64) + EPS)
                w = w * k[:, None, None, None]
                b = (b - p["mean"]) * k + p["offset"]
            np.testing.assert_allclose(inits[f"{conv}.weight"], w, rtol=1e-6, atol=1e-7, err_msg=conv)
            np.testing.assert_allclose(inits[f"{conv}.bias"], b, rtol=1e-6, atol=1e-6, err_msg=conv)

    def test_metadata_of_converted_models(self):
        d = Path(self.tmp.name) / "models"
        for path, precision in ((d / "fcrn.onnx", "fp32"), (d / "fcrn_fp16.onnx", "fp16"),
                                (d / "fcrn_int8.onnx", "int8"), (self.unfused, "fp32")):
            meta = metadata.read(onnx.load(str(path)))
            self.assertEqual(meta["mono_depth.weights"], self.user_supplied_text())
            self.assertEqual(meta["mono_depth.trained"], "true")
            self.assertEqual(meta["mono_depth.precision"], precision)
            self.assertEqual(meta["mono_depth.model"], "fcrn_resnet50_upproj")
            # NYU's Kinect at half size: the geometric mean of 518.8579 / 2
            # and 519.4696 / 2, written out here independently.
            self.assertAlmostEqual(float(meta["mono_depth.focal_px"]), 259.58, places=2)

    def user_supplied_text(self):
        size = self.npy.stat().st_size
        return (f"user-supplied FCRN weights NYU_ResNet-UpProj.npy, {size} bytes, sha256 {self.sha}; "
                "not verified as the authors' file")

    def test_no_npy_is_official(self):
        # the one hash recorded from the authors' files is their checkpoint
        # zip's; none of NYU_ResNet-UpProj.npy is known
        self.assertEqual(set(metadata.OFFICIAL_SHA256), {metadata.OFFICIAL_CHECKPOINT_SHA256})
        self.assertFalse(metadata.is_official(self.sha))
        self.assertIn("not verified as the authors' file", self.fetch.stderr)
        self.assertIn("user-supplied FCRN weights NYU_ResNet-UpProj.npy", self.convert.stdout)
        self.assertNotIn("official", self.convert.stdout)

    def test_file_with_a_published_hash_is_called_official(self):
        size = self.npy.stat().st_size
        published = {self.sha: "test entry"}
        with mock.patch.object(metadata, "OFFICIAL_SHA256", published), tempfile.TemporaryDirectory() as d:
            self.assertTrue(metadata.is_official(self.sha.upper()))
            out = Path(d) / "fcrn.onnx"
            meta = convert_npy(self.npy, out)
            want = (f"official FCRN weights NYU_ResNet-UpProj.npy, {size} bytes, sha256 {self.sha}; "
                    "matches the authors' file (test entry)")
            self.assertEqual(meta["mono_depth.weights"], want)
            written = metadata.read(onnx.load(str(out), load_external_data=False))
            self.assertEqual(written["mono_depth.weights"], want)
            self.assertEqual(written["mono_depth.trained"], "true")
        # a file with another sha256 is not official, whatever its name and size
        with mock.patch.object(metadata, "OFFICIAL_SHA256", published):
            other = metadata.weights_file_text("NYU_ResNet-UpProj.npy", size, "0" * 64)
        self.assertTrue(other.startswith("user-supplied FCRN weights NYU_ResNet-UpProj.npy"), other)

    def test_fp16_weights_are_half_and_io_float(self):
        model = onnx.load(str(Path(self.tmp.name) / "models" / "fcrn_fp16.onnx"))
        self.assertTrue(all(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer))
        self.assertEqual(model.graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertEqual(model.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)

    def test_loader_reads_back_the_same_dict(self):
        back = load_weight_dict(self.npy)
        self.assertEqual(set(back), set(self.weights))
        np.testing.assert_array_equal(back["conv1"]["weights"], self.weights["conv1"]["weights"])

    def test_full_size_synthetic_model_runs(self):
        out = run_ort(Path(self.tmp.name) / "models" / "fcrn.onnx", test_image(7))
        self.assertEqual(out.shape, (1, 1, 128, 160))
        self.assertTrue(np.isfinite(out).all())
        self.assertGreaterEqual(out.min(), 0.0)  # final ReLU

    # -- errors ----------------------------------------------------------
    def _broken(self, edit):
        w = {k: dict(v) for k, v in self.weights.items()}
        edit(w)
        with self.assertRaises(ToolError) as cm:
            validate(w)
        return str(cm.exception)

    def test_missing_layer_is_named(self):
        msg = self._broken(lambda w: w.pop("res4c_branch2b"))
        self.assertIn("missing layer 'res4c_branch2b'", msg)

    def test_missing_param_is_named(self):
        msg = self._broken(lambda w: w["layer8x_br2_ConvC"].pop("biases"))
        self.assertIn("layer 'layer8x_br2_ConvC': missing parameter 'biases'", msg)

    def test_extra_layer_and_param_are_named(self):
        def edit(w):
            w["fc1000"] = {"weights": np.zeros((2048, 1000), np.float32)}
            w["res2a_branch2a"]["biases"] = np.zeros(64, np.float32)

        msg = self._broken(edit)
        self.assertIn("unexpected layer 'fc1000'", msg)
        self.assertIn("layer 'res2a_branch2a': unexpected parameter 'biases'", msg)

    def test_misshaped_tensor_is_named(self):
        def edit(w):
            w["layer2x_br1_ConvB"]["weights"] = np.zeros((3, 2, 1024, 512), np.float32)  # C's shape
            w["bn4a_branch2b"]["mean"] = np.zeros(128, np.float32)

        msg = self._broken(edit)
        self.assertIn("layer 'layer2x_br1_ConvB' parameter 'weights': shape (3, 2, 1024, 512), expected (2, 3, 1024, 512)", msg)
        self.assertIn("layer 'bn4a_branch2b' parameter 'mean': shape (128,), expected (256,)", msg)

    def test_cli_reports_bad_file_without_traceback(self):
        with tempfile.TemporaryDirectory() as d:
            bad = Path(d) / "bad.npy"
            w = {k: v for k, v in self.weights.items() if k != "layer16x_BN"}
            save_weight_dict(bad, w)
            r = run_cli("convert", "--npy", bad, "--out", Path(d) / "x.onnx")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("missing layer 'layer16x_BN'", r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertFalse((Path(d) / "x.onnx").exists())
            plain = Path(d) / "plain.npy"
            np.save(plain, np.zeros(3))
            r = run_cli("convert", "--npy", plain, "--out", Path(d) / "x.onnx")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("expected a pickled dict", r.stderr)
            self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
