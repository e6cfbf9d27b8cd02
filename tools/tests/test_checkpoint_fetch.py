"""The full-size checkpoint path: downloaded from a local stand-in of the
mirror, checked by size and sha256, recorded as official on a match, and
converted to the same model as the ``.npy`` with the same weights."""

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import onnx

from mono_depth_models import fetch as fetch_module
from mono_depth_models import metadata
from mono_depth_models.npy_io import save_weight_dict, sha256_file
from tests import numpy_reference
from tests.helpers import run_cli, run_ort, test_image
from tests.serving import serve
from tests.test_converter import initializers
from tests.tf_writer import fcrn_tensors, write_checkpoint, zip_checkpoint


class CheckpointFetch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = Path(cls.tmp.name)
        weights = numpy_reference.synthetic_weights(seed=3)
        cls.npy = d / "NYU_ResNet-UpProj.npy"
        save_weight_dict(cls.npy, weights)
        served = d / "served"
        served.mkdir()
        files = write_checkpoint(d / "NYU_FCRN.ckpt", fcrn_tensors(weights))
        cls.zip = zip_checkpoint(served / "NYU_FCRN-checkpoint.zip", files)
        for f in files:
            f.unlink()
        cls.sha = sha256_file(cls.zip)
        cls.size = cls.zip.stat().st_size
        cls.models = d / "models"
        with serve(served) as base:
            # the mirror's entry, pointed at the stand-in, whose hash is the
            # one recorded for the authors' file
            stand_in = fetch_module.Source(name=fetch_module.MIRROR.name, url=f"{base}/NYU_FCRN-checkpoint.zip",
                                           kind=fetch_module.MIRROR.kind, size=cls.size, sha256=cls.sha,
                                           about="local stand-in")
            with mock.patch.object(metadata, "OFFICIAL_SHA256", {cls.sha: "test entry"}):
                cls.written = fetch_module.fetch(cls.models, sources=(stand_in,))
        cls.from_npy = d / "from_npy.onnx"
        cls.npy_cli = run_cli("convert", "--npy", cls.npy, "--out", cls.from_npy)
        cls.from_ckpt = d / "from_checkpoint.onnx"
        cls.ckpt_cli = run_cli("convert", "--checkpoint", cls.zip, "--out", cls.from_ckpt)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_fetch_downloads_checks_and_writes_every_precision_as_official(self):
        self.assertEqual([p.name for p in self.written], ["fcrn.onnx", "fcrn_fp16.onnx", "fcrn_int8.onnx"])
        self.assertTrue((self.models / "NYU_FCRN-checkpoint.zip").is_file())
        want = (f"official FCRN weights NYU_FCRN-checkpoint.zip, {self.size} bytes, sha256 {self.sha}; "
                "matches the authors' file (test entry)")
        for path, precision in zip(self.written, ("fp32", "fp16", "int8")):
            meta = metadata.read(onnx.load(str(path), load_external_data=False))
            self.assertEqual(meta["mono_depth.weights"], want, path)
            self.assertEqual(meta["mono_depth.precision"], precision)
            self.assertEqual(meta["mono_depth.trained"], "true")

    def test_the_checkpoint_converts_to_the_same_model_as_the_npy(self):
        self.assertEqual(self.npy_cli.returncode, 0, self.npy_cli.stderr)
        self.assertEqual(self.ckpt_cli.returncode, 0, self.ckpt_cli.stderr)
        _, a = initializers(self.from_ckpt)
        _, b = initializers(self.from_npy)
        self.assertEqual(set(a), set(b))
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        image = test_image(9)
        np.testing.assert_array_equal(run_ort(self.from_ckpt, image), run_ort(self.from_npy, image))
        _, fetched = initializers(self.models / "fcrn.onnx")
        for name in a:
            np.testing.assert_array_equal(fetched[name], a[name], err_msg=name)

    def test_a_checkpoint_given_by_hand_is_user_supplied_without_the_recorded_hash(self):
        # the real table holds only the authors' zip's hash
        self.assertNotIn(self.sha, metadata.OFFICIAL_SHA256)
        self.assertIn(f"user-supplied FCRN weights NYU_FCRN-checkpoint.zip, {self.size} bytes", self.ckpt_cli.stdout)


if __name__ == "__main__":
    unittest.main()
