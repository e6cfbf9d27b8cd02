"""Models the tools write carry a ``COREML_CACHE_KEY`` made from their content."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mono_depth_models import onnx_graph
from mono_depth_models.onnx_graph import COREML_CACHE_KEY, save, save_external


def tiny(scale: float, extra_meta: dict | None = None) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.full((1,), scale, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=[weight],
    )
    return onnx_graph.make_model(graph, extra_meta or {"mono_depth.model": "test"})


def key_of(path: Path) -> str:
    keys = [p.value for p in onnx.load(str(path)).metadata_props if p.key == COREML_CACHE_KEY]
    assert len(keys) == 1, keys
    return keys[0]


class CoreMlCacheKey(unittest.TestCase):
    def test_same_model_same_key_at_any_path_and_a_changed_one_a_new_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "moved").mkdir()
            save(tiny(2.0), tmp / "a.onnx")
            save(tiny(2.0), tmp / "moved" / "b.onnx")
            save(tiny(3.0), tmp / "weights.onnx")
            save(tiny(2.0, {"mono_depth.model": "other"}), tmp / "meta.onnx")
            key = key_of(tmp / "a.onnx")
            self.assertRegex(key, r"^[0-9a-f]{32}$")
            self.assertEqual(key, key_of(tmp / "moved" / "b.onnx"))
            self.assertNotEqual(key, key_of(tmp / "weights.onnx"))
            self.assertNotEqual(key, key_of(tmp / "meta.onnx"))

    def test_saving_again_replaces_the_key_and_leaves_the_model_given_alone(self):
        model = tiny(2.0)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            save(model, tmp / "first.onnx")
            self.assertFalse(any(p.key == COREML_CACHE_KEY for p in model.metadata_props))
            reloaded = onnx.load(str(tmp / "first.onnx"))
            save(reloaded, tmp / "second.onnx")
            self.assertEqual(key_of(tmp / "first.onnx"), key_of(tmp / "second.onnx"))
            meta = {p.key: p.value for p in onnx.load(str(tmp / "second.onnx")).metadata_props}
            self.assertEqual(meta["mono_depth.model"], "test")

    def test_external_data_models_carry_the_key_of_their_content(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            save(tiny(2.0), tmp / "inline.onnx")
            save_external(tiny(2.0), tmp / "external.onnx", "external.onnx.data")
            self.assertEqual(key_of(tmp / "inline.onnx"), key_of(tmp / "external.onnx"))


if __name__ == "__main__":
    unittest.main()
