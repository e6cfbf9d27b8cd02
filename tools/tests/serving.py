"""Local HTTP servers for the download tests (loopback only, stopped on exit)."""

import contextlib
import functools
import http.server
import io
import threading
from pathlib import Path


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; records each request's method and path in ``server.requests``."""

    def log_message(self, *args):
        pass

    def send_head(self):
        self.server.requests.append((self.command, self.path))
        return super().send_head()


class Ranges(Quiet):
    """Also serves ``Range: bytes=N-`` and ``bytes=N-M`` requests as 206
    Partial Content."""

    def send_head(self):
        wanted = self.headers.get("Range", "")
        if not wanted.startswith("bytes="):
            return super().send_head()
        self.server.requests.append((self.command, self.path))
        data = Path(self.translate_path(self.path)).read_bytes()
        first, _, last = wanted[len("bytes="):].partition("-")
        start = int(first)
        end = min(int(last), len(data) - 1) if last else len(data) - 1
        self.server.ranges.append(start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end + 1 - start))
        self.end_headers()
        return io.BytesIO(data[start:end + 1])


@contextlib.contextmanager
def serve(folder, handler=Quiet):
    """Serve ``folder`` on 127.0.0.1; yields the base URL (``serve_with``
    also yields the server, for its request log)."""
    with serve_with(folder, handler) as (base, _):
        yield base


@contextlib.contextmanager
def serve_with(folder, handler=Quiet):
    """Like ``serve``, yielding ``(base URL, server)``; the server has
    ``requests`` (method, path) and ``ranges`` (Range starts) lists."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    server.requests, server.ranges = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
