"""Download, verify and extract Oxford-IIIT Pet (images.tar.gz + annotations.tar.gz).

A download goes to ``<name>.part`` and resumes from its size with an HTTP Range request; the
finished file is checked against its MD5 before it is renamed and extracted. With no network
the first connection error stops everything at once with instructions for doing it by hand.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

# The official site (https://www.robots.ox.ac.uk/~vgg/data/pets/) links the archives on thor;
# the www path (what torchvision uses) redirects there and is tried second.
BASE_URLS = (
    "https://thor.robots.ox.ac.uk/~vgg/data/pets/data/",
    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/",
)
CHECKSUMS = {  # MD5, as published by torchvision's OxfordIIITPet
    "images.tar.gz": "5c4f3ee8e5d25df40f4fd59a7f44e54c",
    "annotations.tar.gz": "95a8c909bbe2e81eed6a22bccdf3f68f",
}
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download, checksum or extraction problem, with what to do about it."""


def md5sum(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _manual_help(root: Path, names) -> str:
    urls = "\n".join(f"  {BASE_URLS[0]}{n}" for n in names)
    return (
        f"Download these files by hand on a machine with internet access:\n{urls}\n"
        f"then either put them in {root} and run this command again, or keep them in a folder DIR and run:\n"
        f"  python -m cats_dit.data download --root {root} --from-dir DIR\n"
        "No network at all? `python -m cats_dit.data cartoon --root DIR` makes a stand-in dataset in the same layout."
    )


def fetch(url: str, dest: str | Path, md5: str | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed if present), verify ``md5``."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "cats_dit-data/0.1"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the .part file already holds everything
            resp = None
        else:
            raise
    if resp is not None:
        with resp:
            if start and resp.status != 206:  # server ignored Range: start over
                start = 0
            length = resp.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            with (
                open(part, "ab" if start else "wb") as f,
                tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name) as bar,
            ):
                for block in iter(lambda: resp.read(CHUNK), b""):
                    f.write(block)
                    bar.update(len(block))
    if md5 is not None:
        got = md5sum(part)
        if got != md5:
            part.unlink()
            raise DownloadError(
                f"{dest.name} from {url} has MD5 {got}, expected {md5}; the partial file was deleted, run again"
            )
    os.replace(part, dest)
    return dest


def _is_offline_error(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return False
    return isinstance(exc, (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError, OSError))


def _download_one(root: Path, name: str, md5: str | None, base_urls, timeout: float) -> Path:
    dest = root / name
    errors = []
    offline = True
    for base in base_urls:
        url = base.rstrip("/") + "/" + name
        try:
            return fetch(url, dest, md5, timeout=timeout)
        except DownloadError:
            raise
        except Exception as exc:
            offline = offline and _is_offline_error(exc)
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
    what = "Could not connect (offline?)" if offline else "Download failed"
    raise DownloadError(f"{what}:\n  " + "\n  ".join(errors) + "\n" + _manual_help(root, CHECKSUMS))


def verify(path: Path, md5: str | None) -> None:
    if md5 is None:
        return
    got = md5sum(path)
    if got != md5:
        raise DownloadError(
            f"{path} has MD5 {got}, expected {md5}: the file is incomplete or not the official archive. "
            "Delete it and download again."
        )


def extract(archive: Path, root: Path) -> None:
    """Extract a .tar.gz into ``root`` with a progress bar; refuses paths outside ``root``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in tqdm(members, desc=f"extracting {archive.name}", unit="file"):
                if hasattr(tarfile, "data_filter"):
                    tar.extract(m, root, filter="data")
                else:  # Python < 3.11.4: check paths ourselves
                    target = (root / m.name).resolve()
                    if not str(target).startswith(str(root.resolve())):
                        raise DownloadError(f"{archive} contains a path outside the target folder: {m.name}")
                    tar.extract(m, root)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, DownloadError):
            raise
        raise DownloadError(f"Could not extract {archive}: {exc}. Delete it and download again.") from exc


def download_oxford_pets(
    root: str | Path,
    base_url: str | None = None,
    from_dir: str | Path | None = None,
    keep_archives: bool = False,
    checksums: dict[str, str | None] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make ``root/images`` and ``root/annotations`` of Oxford-IIIT Pet and return ``root``.

    Archives are taken from ``from_dir`` if given, else from ``root`` if already there (placed by
    hand or left by an earlier run), else downloaded (``base_url`` replaces the official URLs).
    Each is MD5-checked (``checksums`` overrides the official sums, for tests), then extracted.
    Downloaded archives are deleted after extraction unless ``keep_archives``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    checksums = dict(CHECKSUMS if checksums is None else checksums)
    base_urls = (base_url,) if base_url else BASE_URLS
    if from_dir is not None:
        from_dir = Path(from_dir)
        missing = [n for n in checksums if not (from_dir / n).is_file()]
        if missing:
            raise DownloadError(f"{from_dir} lacks {', '.join(missing)}.\n" + _manual_help(root, missing))
    for name, md5 in checksums.items():
        done = root / f".{name}.extracted"
        target = root / name.split(".")[0]  # images/ or annotations/
        if done.exists() and target.is_dir():
            print(f"{name}: already extracted in {root}")
            continue
        downloaded = False
        if from_dir is not None:
            archive = from_dir / name
        elif (root / name).is_file():
            archive = root / name
        else:
            archive = _download_one(root, name, md5, base_urls, timeout)
            downloaded = True
        if not downloaded:
            verify(archive, md5)
        extract(archive, root)
        done.write_text(f"{md5}\n")
        if archive.parent == root and not keep_archives:
            archive.unlink()
    for needed in ("images", "annotations/trainval.txt", "annotations/test.txt"):
        if not (root / needed).exists():
            raise DownloadError(f"After extracting, {root / needed} is missing: the archives are not Oxford-IIIT Pet")
    print(f"Oxford-IIIT Pet is ready in {root}")
    return root
