"""CLI behaviour: fetch failures are clear, expected errors have no traceback."""

import os
import pickle
import socket
import tempfile
import unittest
from pathlib import Path

import numpy as np

from mono_depth_models.errors import ToolError
from mono_depth_models import fetch as fetch_module
from mono_depth_models import metadata
from mono_depth_models.fetch import AUTHORS_NPY, MIRROR
from mono_depth_models.npy_io import load_weight_dict, save_weight_dict
from tests.helpers import run_cli
from tests.serving import Quiet, Ranges, serve_with


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CliTest(unittest.TestCase):
    def assertCleanFailure(self, r):
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.startswith("error:") or "\nerror:" in r.stderr, r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_fetch_offline_names_address_and_manual_steps(self):
        url = f"http://127.0.0.1:{closed_port()}/NYU_ResNet-UpProj.npy"
        with tempfile.TemporaryDirectory() as d:
            r = run_cli("fetch", "--dest", d, "--url", url, timeout=60)
            self.assertCleanFailure(r)
            self.assertIn(url, r.stderr)
            self.assertIn("cargo xtask fetch-model --checkpoint", r.stderr)
            self.assertEqual(os.listdir(d), [])  # no partial download left

    def test_fetch_downloads_then_checks_structure(self):
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            save_weight_dict(Path(served) / "NYU_ResNet-UpProj.npy", {"conv1": {"weights": np.zeros((7, 7, 3, 64), np.float32)}})
            with serve_with(served) as (base, _):
                r = run_cli("fetch", "--dest", dest, "--url", f"{base}/NYU_ResNet-UpProj.npy", timeout=60)
            self.assertCleanFailure(r)
            self.assertIn("MB", r.stderr)  # progress was shown
            self.assertIn("does not hold the trained FCRN weights", r.stderr)
            self.assertIn("missing layer 'bn_conv1'", r.stderr)
            self.assertEqual(os.listdir(dest), [])  # neither models nor the bad download

    def test_an_interrupted_download_resumes_where_it_stopped(self):
        from mono_depth_models.fetch import download
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            payload = bytes(range(256)) * 4096  # 1 MiB, every offset distinct mod 256
            (Path(served) / "w.npy").write_bytes(payload)
            # The first 300 000 bytes arrived before the connection broke.
            (Path(dest) / "w.npy.part").write_bytes(payload[:300_000])
            for handler_class, expect_ranges in ((Ranges, [300_000]), (Quiet, [])):
                with serve_with(served, handler_class) as (base, server):
                    download(f"{base}/w.npy", Path(dest) / "w.npy", size=len(payload))
                # Only the rest was asked for; the result is the whole file.
                self.assertEqual(server.ranges, expect_ranges)
                self.assertEqual((Path(dest) / "w.npy").read_bytes(), payload)
                self.assertFalse((Path(dest) / "w.npy.part").exists())
                # For the second round: a server that ignores ranges sends the
                # whole file, which replaces the stale part.
                (Path(dest) / "w.npy").unlink()
                (Path(dest) / "w.npy.part").write_bytes(b"stale bytes")

    def test_fetch_with_missing_npy(self):
        with tempfile.TemporaryDirectory() as d:
            r = run_cli("fetch", "--dest", d, "--npy", Path(d) / "nope.npy")
            self.assertCleanFailure(r)
            self.assertIn("no such file", r.stderr)
            self.assertIn(MIRROR.url, r.stderr)
            r = run_cli("fetch", "--dest", d, "--checkpoint", Path(d) / "nope.zip")
            self.assertCleanFailure(r)
            self.assertIn("nope.zip: no such file", r.stderr)

    def test_fetch_help_says_where_the_weights_come_from_today(self):
        r = run_cli("fetch", "--help")
        self.assertEqual(r.returncode, 0)
        text = " ".join(r.stdout.split())
        self.assertIn(MIRROR.url, text)
        self.assertIn(f"{MIRROR.size:,} bytes, sha256 {MIRROR.sha256}", text)
        self.assertIn("dead since about 2022", text)
        self.assertIn(AUTHORS_NPY.url, text)
        self.assertIn("--checkpoint", text)
        self.assertIn("--npy", text)

    def test_the_mirror_comes_first_with_the_recorded_size_and_hash(self):
        self.assertEqual(fetch_module.SOURCES[0], MIRROR)
        self.assertEqual(MIRROR.url, "https://storage.openvinotoolkit.org/repositories/open_model_zoo/public/"
                                     "2022.1/fcrn-dp-nyu-depth-v2-tf/NYU_FCRN-checkpoint.zip")
        self.assertEqual(MIRROR.size, 472_588_519)
        self.assertEqual(MIRROR.sha256, "9d97ed165c4a5b3f085eb83b8814de1e883c6348da60da4b2568ddd64bb2d5c4")
        self.assertTrue(metadata.is_official(MIRROR.sha256))
        self.assertEqual(fetch_module.SOURCES[1:], (AUTHORS_NPY,))

    # -- the demo's decision: asking for the file itself ---------------------
    def test_probe_of_a_missing_file_says_so_in_one_line(self):
        with tempfile.TemporaryDirectory() as served:
            with serve_with(served) as (base, server):
                url = f"{base}/NYU_FCRN-checkpoint.zip"
                r = run_cli("fetch", "--probe", "--url", url, timeout=60)
            self.assertCleanFailure(r)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(url, r.stderr)
            self.assertIn("HTTP 404", r.stderr)
            self.assertEqual(server.requests, [("HEAD", "/NYU_FCRN-checkpoint.zip")])  # nothing downloaded

    def test_probe_checks_the_announced_size(self):
        with tempfile.TemporaryDirectory() as served:
            (Path(served) / "w.zip").write_bytes(b"x" * 1000)
            with serve_with(served) as (base, _):
                ok = run_cli("fetch", "--probe", "--url", f"{base}/w.zip", "--size", "1000", timeout=60)
                wrong = run_cli("fetch", "--probe", "--url", f"{base}/w.zip", "--size", "999", timeout=60)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertIn(f"available: {base}/w.zip", ok.stdout)
            self.assertCleanFailure(wrong)
            self.assertIn("1,000 bytes, expected 999", wrong.stderr)

    def test_probe_asks_for_the_first_byte_where_head_is_refused(self):
        class NoHead(Ranges):
            def do_HEAD(self):
                self.server.requests.append(("HEAD", self.path))
                self.send_error(405)

        with tempfile.TemporaryDirectory() as served:
            (Path(served) / "w.zip").write_bytes(b"x" * 1000)
            with serve_with(served, NoHead) as (base, server):
                ok = run_cli("fetch", "--probe", "--url", f"{base}/w.zip", "--size", "1000", timeout=60)
                wrong = run_cli("fetch", "--probe", "--url", f"{base}/w.zip", "--size", "999", timeout=60)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.assertEqual(server.ranges, [0, 0])  # one byte asked for, each time
            self.assertCleanFailure(wrong)
            self.assertIn("1,000 bytes, expected 999", wrong.stderr)

    def test_probe_of_a_closed_port(self):
        url = f"http://127.0.0.1:{closed_port()}/NYU_FCRN-checkpoint.zip"
        r = run_cli("fetch", "--probe", "--url", url, timeout=60)
        self.assertCleanFailure(r)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(url, r.stderr)

    # -- size and hash of a download -------------------------------------------
    def test_a_download_of_another_size_is_refused_before_it_starts(self):
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            (Path(served) / "NYU_FCRN-checkpoint.zip").write_bytes(b"z" * 5000)
            with serve_with(served) as (base, _):
                r = run_cli("fetch", "--dest", dest, "--url", f"{base}/NYU_FCRN-checkpoint.zip",
                            "--size", "4000", timeout=60)
            self.assertCleanFailure(r)
            self.assertIn("announces 5,000 bytes, but the file is 4,000 bytes", r.stderr)
            self.assertEqual(os.listdir(dest), [])

    def test_a_download_with_another_hash_is_removed(self):
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            (Path(served) / "NYU_FCRN-checkpoint.zip").write_bytes(b"z" * 5000)
            with serve_with(served) as (base, _):
                r = run_cli("fetch", "--dest", dest, "--url", f"{base}/NYU_FCRN-checkpoint.zip",
                            "--size", "5000", "--sha256", "0" * 64, timeout=60)
            self.assertCleanFailure(r)
            self.assertIn(f"expected {'0' * 64}", r.stderr)
            self.assertIn("removed", r.stderr)
            self.assertEqual(os.listdir(dest), [])

    def test_the_npy_address_is_tried_only_after_the_mirror(self):
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            save_weight_dict(Path(served) / "NYU_ResNet-UpProj.npy",
                             {"conv1": {"weights": np.zeros((7, 7, 3, 64), np.float32)}})
            with serve_with(served) as (base, server):
                sources = (
                    fetch_module.Source("NYU_FCRN-checkpoint.zip", f"{base}/NYU_FCRN-checkpoint.zip",
                                        "checkpoint", 100, "1" * 64, "mirror stand-in"),
                    fetch_module.Source("NYU_ResNet-UpProj.npy", f"{base}/NYU_ResNet-UpProj.npy",
                                        "npy", None, None, "old address stand-in"),
                )
                path, source, _ = fetch_module.obtain(Path(dest), sources)
            self.assertEqual([p for _, p in server.requests], ["/NYU_FCRN-checkpoint.zip", "/NYU_ResNet-UpProj.npy"])
            self.assertEqual(source, sources[1])
            self.assertEqual(path, Path(dest) / "NYU_ResNet-UpProj.npy")

    def test_stats_on_non_onnx_file(self):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "x.onnx"
            p.write_text("not a model")
            self.assertCleanFailure(run_cli("stats", p))
            self.assertCleanFailure(run_cli("stats", Path(d) / "missing.onnx"))

    def test_loader_refuses_code_in_pickles(self):
        class Evil:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "evil.npy"
            np.save(p, np.array({"conv1": Evil()}, dtype=object), allow_pickle=True)
            with self.assertRaises(ToolError) as cm:
                load_weight_dict(p)
            self.assertIn("refusing to unpickle", str(cm.exception))

    def test_loader_reads_python2_style_latin1_pickles(self):
        # The official file is a Python 2 pickle (protocol 2, str keys as bytes).
        w = {"conv1": {"weights": np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)}}
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "py2.npy"
            save_weight_dict(p, w)
            raw = p.read_bytes()
            header_end = raw.index(b"\n") + 1
            body = pickle.dumps(np.array(w, dtype=object), protocol=2)
            p.write_bytes(raw[:header_end] + body)
            back = load_weight_dict(p)
            np.testing.assert_array_equal(back["conv1"]["weights"], w["conv1"]["weights"])


if __name__ == "__main__":
    unittest.main()
