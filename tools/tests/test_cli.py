"""CLI behaviour: fetch failures are clear, expected errors have no traceback."""

import functools
import http.server
import os
import pickle
import socket
import tempfile
import threading
import unittest
from pathlib import Path

import numpy as np

from mono_depth_models.errors import ToolError
from mono_depth_models.fetch import OFFICIAL_URL
from mono_depth_models.npy_io import load_weight_dict, save_weight_dict
from tests.helpers import run_cli


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Ranges(_Quiet):
    """Serves ``Range: bytes=N-`` requests as 206 Partial Content."""

    def send_head(self):
        wanted = self.headers.get("Range", "")
        if not wanted.startswith("bytes="):
            return super().send_head()
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        start = int(wanted[len("bytes="):].rstrip("-"))
        self.server.ranges.append(start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        import io
        return io.BytesIO(data[start:])


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
            self.assertIn("cargo xtask fetch-model --npy", r.stderr)
            self.assertEqual(os.listdir(d), [])  # no partial download left

    def test_fetch_downloads_then_checks_structure(self):
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            save_weight_dict(Path(served) / "NYU_ResNet-UpProj.npy", {"conv1": {"weights": np.zeros((7, 7, 3, 64), np.float32)}})
            handler = functools.partial(_Quiet, directory=served)
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}/NYU_ResNet-UpProj.npy"
                r = run_cli("fetch", "--dest", dest, "--url", url, timeout=60)
            finally:
                server.shutdown()
                server.server_close()
            self.assertCleanFailure(r)
            self.assertIn("MB", r.stderr)  # progress was shown
            self.assertIn("is not the official FCRN weight file", r.stderr)
            self.assertIn("missing layer 'bn_conv1'", r.stderr)
            self.assertEqual(os.listdir(dest), [])  # neither models nor the bad download

    def test_an_interrupted_download_resumes_where_it_stopped(self):
        from mono_depth_models.fetch import download
        with tempfile.TemporaryDirectory() as served, tempfile.TemporaryDirectory() as dest:
            payload = bytes(range(256)) * 4096  # 1 MiB, every offset distinct mod 256
            (Path(served) / "w.npy").write_bytes(payload)
            # The first 300 000 bytes arrived before the connection broke.
            (Path(dest) / "w.npy.part").write_bytes(payload[:300_000])
            for handler_class, expect_ranges in ((_Ranges, [300_000]), (_Quiet, [])):
                handler = functools.partial(handler_class, directory=served)
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
                server.ranges = []
                threading.Thread(target=server.serve_forever, daemon=True).start()
                try:
                    url = f"http://127.0.0.1:{server.server_address[1]}/w.npy"
                    download(url, Path(dest) / "w.npy")
                finally:
                    server.shutdown()
                    server.server_close()
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
            self.assertIn(OFFICIAL_URL, r.stderr)

    def test_fetch_help_explains_the_official_path(self):
        r = run_cli("fetch", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(OFFICIAL_URL, r.stdout)
        self.assertIn("--npy", r.stdout)

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
