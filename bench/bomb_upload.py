"""What a decompression bomb costs the API. Posts a 379 KB PNG declaring 10000 x 10000 RGBA to
POST /search and POST /documents (Flask test client, embedded default, a temporary data dir) and prints
the status, the time and the peak RSS growth of this process.

    .venv/bin/python bench/bomb_upload.py
"""
import io
import resource
import struct
import tempfile
import time
import zlib

from backend.app import create_app
from backend.cli_db import upgrade_database
from backend.settings import Settings


def rgba_png(w, h):
    row = b"\x00" + b"\x00" * (4 * w)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")

png = rgba_png(10000, 10000)
print("bomb size KB", len(png) // 1024)
d = tempfile.mkdtemp(prefix="prism-bomb-")
s = Settings(data_dir=d, auth_required=False)
upgrade_database(s.resolved_database_url)
c = create_app(s).test_client()
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in ("/search", "/documents"):
    t = time.perf_counter()
    if path == "/search":
        r = c.post(path, data={"image": (io.BytesIO(png), "b.png"), "request": '{"text": "x"}'}, content_type="multipart/form-data")
    else:
        r = c.post(path, data={"images": (io.BytesIO(png), "b.png"), "metadata": '{"publication_number": "USD0999999", "title": "x", "figures": [{"number": 1, "image": "b.png"}]}'}, content_type="multipart/form-data")
    print(path, r.status_code, f"{(time.perf_counter() - t) * 1000:.1f} ms", r.json["detail"][:110])
print("peak RSS growth MB", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
