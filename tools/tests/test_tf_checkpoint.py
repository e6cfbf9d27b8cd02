"""The TensorFlow checkpoint reader, without TensorFlow.

Reads the fixtures TensorFlow itself wrote (``fixtures/``, made by
``fixtures/make_tf_checkpoint.py``) and broken checkpoints from
``tf_writer``."""

import shutil
import tempfile
import unittest
import zipfile
from pathlib import Path

import numpy as np

from mono_depth_models import tf_checkpoint
from mono_depth_models.convert import convert_checkpoint, convert_npy
from mono_depth_models.errors import ToolError
from mono_depth_models.npy_io import save_weight_dict
from tests import numpy_reference
from tests.fixture_values import DTYPE_VALUES, W16_SEED, decoys
from tests.helpers import run_cli, run_ort, test_image
from tests.tf_writer import fcrn_tensors, write_checkpoint, zip_checkpoint

FIXTURES = Path(__file__).resolve().parent / "fixtures"
W16_ZIP = FIXTURES / "NYU_FCRN-checkpoint_w16.zip"
DTYPES_PREFIX = FIXTURES / "dtypes" / "dtypes.ckpt"


class TensorFlowFixtures(unittest.TestCase):
    def test_every_dtype_reads_back_exactly(self):
        for path in (DTYPES_PREFIX, Path(str(DTYPES_PREFIX) + ".index")):
            got = tf_checkpoint.read_checkpoint(path)
            self.assertEqual(set(got), set(DTYPE_VALUES), path)
            for name, want in DTYPE_VALUES.items():
                self.assertEqual(got[name].dtype, want.dtype, name)
                self.assertEqual(got[name].shape, want.shape, name)
                np.testing.assert_array_equal(got[name], want, err_msg=name)

    def test_official_layout_zip_gives_the_npy_dict_without_the_decoys(self):
        want = numpy_reference.synthetic_weights(seed=W16_SEED, width_div=16)
        with zipfile.ZipFile(W16_ZIP) as z:
            self.assertEqual(sorted(z.namelist()), ["NYU_FCRN.ckpt.data-00000-of-00001", "NYU_FCRN.ckpt.index",
                                                    "NYU_FCRN.ckpt.meta"])
        everything = tf_checkpoint.read_checkpoint(W16_ZIP)
        for name, value in decoys().items():
            np.testing.assert_array_equal(everything[name], value)
            self.assertEqual(everything[name].dtype, value.dtype)
        got = tf_checkpoint.weight_dict(W16_ZIP)
        self.assertEqual(set(got), set(want))
        for layer, params in want.items():
            self.assertEqual(set(got[layer]), set(params), layer)
            for p, a in params.items():
                self.assertEqual(got[layer][p].dtype, np.float32)
                np.testing.assert_array_equal(got[layer][p], a, err_msg=f"{layer}/{p}")

    def test_checkpoint_converts_to_the_same_model_as_the_npy(self):
        weights = numpy_reference.synthetic_weights(seed=W16_SEED, width_div=16)
        with tempfile.TemporaryDirectory() as d:
            npy = Path(d) / "w16.npy"
            save_weight_dict(npy, weights)
            convert_npy(npy, Path(d) / "npy.onnx", width_div=16)
            meta = convert_checkpoint(W16_ZIP, Path(d) / "ckpt.onnx", width_div=16)
            image = test_image(5)
            a = run_ort(Path(d) / "ckpt.onnx", image)
            b = run_ort(Path(d) / "npy.onnx", image)
            np.testing.assert_array_equal(a, b)
            # and both are the network the authors' code computes
            ref = numpy_reference.forward(weights, image, width_div=16)
            np.testing.assert_allclose(a, ref, atol=3e-5 * float(np.abs(ref).max()))
        self.assertIn("NYU_FCRN-checkpoint_w16.zip", meta["mono_depth.weights"])
        self.assertTrue(meta["mono_depth.weights"].startswith("user-supplied"))


class Broken(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.prefix = self.dir / "NYU_FCRN.ckpt"

    def tearDown(self):
        self.tmp.cleanup()

    def error(self, path=None, read=tf_checkpoint.read_checkpoint) -> str:
        with self.assertRaises(ToolError) as cm:
            read(path or self.prefix)
        return str(cm.exception)

    def test_a_damaged_tensor_fails_its_crc(self):
        write_checkpoint(self.prefix, {"conv1/weights": np.ones((2, 2), np.float32)}, corrupt_crc="conv1/weights")
        msg = self.error()
        self.assertIn("'conv1/weights' fails its crc32c check", msg)
        self.assertIn("NYU_FCRN.ckpt.data-00000-of-00001", msg)

    def test_a_truncated_data_shard_is_named(self):
        files = write_checkpoint(self.prefix, {"a/w": np.ones(8, np.float32), "b/w": np.ones(8, np.float32)},
                                 truncate_data=5)
        msg = self.error(zip_checkpoint(self.dir / "c.zip", files))
        self.assertIn("c.zip", msg)
        self.assertIn("truncated", msg)
        self.assertIn("'b/w'", msg)

    def test_a_damaged_index_block_is_refused(self):
        index, _ = write_checkpoint(self.prefix, {"a/w": np.ones(3, np.float32)})
        raw = bytearray(index.read_bytes())
        raw[10] ^= 0xFF
        index.write_bytes(bytes(raw))
        self.assertIn("crc32c", self.error())

    def test_a_compressed_index_is_refused_with_the_reason(self):
        write_checkpoint(self.prefix, {"a/w": np.ones(3, np.float32)}, compression=1)
        self.assertIn("Snappy-compressed", self.error())

    def test_not_an_index(self):
        Path(str(self.prefix) + ".index").write_bytes(b"\x00" * 100)
        self.assertIn("not a TensorFlow checkpoint index", self.error())
        Path(str(self.prefix) + ".index").write_bytes(b"short")
        self.assertIn("too short", self.error())

    def test_an_entry_whose_size_disagrees_with_its_shape(self):
        # recorded as float64 (8 bytes each) while 4-byte floats were written
        write_checkpoint(self.prefix, {"a/w": np.ones(3, np.float32)}, entry_dtype={"a/w": 2})
        self.assertIn("has 12 bytes, expected 24", self.error())

    def test_a_string_tensor_is_refused(self):
        write_checkpoint(self.prefix, {"a/w": np.ones(3, np.uint8)}, entry_dtype={"a/w": 7})
        self.assertIn("dtype string", self.error())

    def test_zip_without_a_checkpoint(self):
        z = self.dir / "NYU_FCRN-checkpoint.zip"
        with zipfile.ZipFile(z, "w") as f:
            f.writestr("README.txt", "no weights here")
        msg = self.error(z)
        self.assertIn("holds no TensorFlow checkpoint", msg)
        self.assertIn("README.txt", msg)

    def test_zip_without_the_data_shard(self):
        index, _ = write_checkpoint(self.prefix, {"a/w": np.ones(3, np.float32)})
        msg = self.error(zip_checkpoint(self.dir / "c.zip", [index]))
        self.assertIn("no data shard NYU_FCRN.ckpt.data-00000-of-00001", msg)

    def test_missing_prefix(self):
        self.assertIn("no checkpoint there", self.error(self.dir / "nothing.ckpt"))

    def test_layout_errors_name_the_file_and_the_layer(self):
        weights = numpy_reference.synthetic_weights(seed=1, width_div=16)
        weights["conv1"]["weights"] = weights["conv1"]["weights"].astype(np.int32)  # wrong dtype
        del weights["res4c_branch2b"]  # missing layer
        weights["bn4a_branch2b"]["mean"] = np.zeros(3, np.float32)  # misshaped
        files = write_checkpoint(self.prefix, fcrn_tensors(weights))
        z = zip_checkpoint(self.dir / "NYU_FCRN-checkpoint.zip", files)
        with self.assertRaises(ToolError) as cm:
            convert_checkpoint(z, self.dir / "x.onnx", width_div=16)
        msg = str(cm.exception)
        self.assertIn(str(z), msg)
        self.assertIn("layer 'conv1' parameter 'weights': expected a float array, found ndarray of int32", msg)
        self.assertIn("missing layer 'res4c_branch2b'", msg)
        self.assertIn("layer 'bn4a_branch2b' parameter 'mean': shape (3,)", msg)
        self.assertFalse((self.dir / "x.onnx").exists())

    def test_cli_reports_a_bad_checkpoint_without_traceback(self):
        shutil.copy(W16_ZIP, self.dir / "w16.zip")
        # the full-width layout is expected: the reduced fixture is misshaped
        r = run_cli("convert", "--checkpoint", self.dir / "w16.zip", "--out", self.dir / "x.onnx")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("error:", r.stderr)
        self.assertIn("w16.zip", r.stderr)
        self.assertIn("expected (7, 7, 3, 64)", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse((self.dir / "x.onnx").exists())


class Masking(unittest.TestCase):
    def test_mask_round_trips_and_matches_tensorflow(self):
        for crc in (0, 1, 0xFFFFFFFF, 0xE3069283):
            self.assertEqual(tf_checkpoint.unmask_crc(tf_checkpoint.mask_crc(crc)), crc)
        # crc32c::Mask in TensorFlow: rotate right by 15, add 0xa282ead8
        self.assertEqual(tf_checkpoint.mask_crc(0), 0xA282EAD8)


if __name__ == "__main__":
    unittest.main()
