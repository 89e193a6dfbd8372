"""Oxford-IIIT Pet download: offline error, resume over HTTP Range, MD5 check, extraction.

A local HTTP server (with Range support) stands in for the official site; no internet is used."""

import hashlib
import io
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cats_dit.data import load_records
from cats_dit.data.__main__ import main
from cats_dit.data.download import DownloadError, download_oxford_pets, fetch


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def archives(cartoon_root):
    """images.tar.gz / annotations.tar.gz built from the cartoon tree, and their MD5s."""
    images = {f"images/{p.name}": p.read_bytes() for p in sorted((cartoon_root / "images").iterdir())}
    ann = {f"annotations/{p.name}": p.read_bytes() for p in sorted((cartoon_root / "annotations").iterdir())}
    blobs = {"images.tar.gz": _tar(images), "annotations.tar.gz": _tar(ann)}
    return blobs, {k: hashlib.md5(v).hexdigest() for k, v in blobs.items()}


class _Server:
    """Serves ``files`` with HTTP Range support and records the Range headers it got."""

    def __init__(self, files):
        self.files, self.ranges = files, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_offline_fails_at_once_with_instructions(tmp_path, capsys):
    t0 = time.monotonic()
    rc = main(["download", "--root", str(tmp_path / "pets"), "--base-url", "http://127.0.0.1:9/"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert rc == 1
    assert "Could not connect" in err and "images.tar.gz" in err and "annotations.tar.gz" in err
    assert "--from-dir" in err and str(tmp_path / "pets") in err
    assert elapsed < 10  # "at once": no retries or long timeouts on a refused connection


def test_extract_from_local_archives(tmp_path, archives, cartoon_root, capsys):
    blobs, sums = archives
    src = tmp_path / "downloads"
    src.mkdir()
    for name, data in blobs.items():
        (src / name).write_bytes(data)
    root = download_oxford_pets(tmp_path / "pets", from_dir=src, checksums=sums)
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(
        p.name for p in (cartoon_root / "images").iterdir()
    )
    assert len(load_records(root, "test")) == len(load_records(cartoon_root, "test"))
    assert all((src / n).exists() for n in blobs)  # the user's files are left alone
    capsys.readouterr()
    download_oxford_pets(root, from_dir=src, checksums=sums)  # second run: nothing to do
    assert capsys.readouterr().out.count("already extracted") == 2


def test_checksum_mismatch_is_refused(tmp_path, archives):
    blobs, sums = archives
    src = tmp_path / "downloads"
    src.mkdir()
    for name, data in blobs.items():
        (src / name).write_bytes(data)
    with pytest.raises(DownloadError, match="expected 0+"):
        download_oxford_pets(tmp_path / "pets", from_dir=src, checksums={**sums, "images.tar.gz": "0" * 32})
    with pytest.raises(DownloadError, match="lacks annotations.tar.gz"):
        (src / "annotations.tar.gz").unlink()
        download_oxford_pets(tmp_path / "pets2", from_dir=src, checksums=sums)


def test_official_checksums_are_checked_by_default(tmp_path, archives):
    blobs, _ = archives
    src = tmp_path / "downloads"
    src.mkdir()
    for name, data in blobs.items():
        (src / name).write_bytes(data)
    with pytest.raises(DownloadError, match="5c4f3ee8e5d25df40f4fd59a7f44e54c|95a8c909bbe2e81eed6a22bccdf3f68f"):
        download_oxford_pets(tmp_path / "pets", from_dir=src)


def test_download_resumes_partial_file(tmp_path, archives):
    blobs, sums = archives
    server = _Server(blobs)
    try:
        root = tmp_path / "pets"
        root.mkdir()
        half = len(blobs["images.tar.gz"]) // 2
        (root / "images.tar.gz.part").write_bytes(blobs["images.tar.gz"][:half])
        download_oxford_pets(root, base_url=server.url, checksums=sums)
    finally:
        server.close()
    assert f"bytes={half}-" in server.ranges  # only the missing half was requested
    assert len(load_records(root, "trainval")) > 0
    assert not list(root.glob("*.part")) and not list(root.glob("*.tar.gz"))  # archives removed after extraction


def test_corrupt_download_is_deleted(tmp_path, archives):
    blobs, sums = archives
    server = _Server({**blobs, "annotations.tar.gz": b"not the archive"})
    try:
        with pytest.raises(DownloadError, match="MD5"):
            fetch(server.url + "annotations.tar.gz", tmp_path / "annotations.tar.gz", sums["annotations.tar.gz"])
    finally:
        server.close()
    assert not (tmp_path / "annotations.tar.gz").exists() and not (tmp_path / "annotations.tar.gz.part").exists()
