"""Fetch a published file with a sha256 check, or take it from a local mirror folder.

Raw files are never edited. A download goes to a temporary name and is renamed only once its
checksum matches, so a failed or corrupted download leaves no partial file behind.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)


class ChecksumError(ValueError):
    """A file's sha256 differs from the published one."""


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, sha256: str | None) -> Path:
    """Return ``path`` when it exists and matches ``sha256`` (no check when it is ``None``)."""
    if not path.is_file():
        raise FileNotFoundError(f"missing file: {path}")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256:
            raise ChecksumError(f"{path}: sha256 is {actual}, expected {sha256}")
    return path


def fetch(
    relative_path: str,
    url: str | None,
    sha256: str | None,
    raw_dir: Path,
    mirror: Path | None = None,
) -> Path:
    """Make ``raw_dir/relative_path`` available and verified; return its path.

    Parameters
    ----------
    relative_path : str
        Where the file lives below the raw folder and below the mirror, e.g. ``ml-100k/u.data``.
    url : str, optional
        The publisher's address; ``None`` when the file only comes from a mirror or archive.
    sha256 : str, optional
        The expected digest.
    raw_dir : Path
        The raw layer (``data/raw``).
    mirror : Path, optional
        A folder holding the same relative paths; read in place (never copied) when given.

    Raises
    ------
    FileNotFoundError
        When neither the mirror nor the publisher has the file.
    ChecksumError
        When the file's digest differs; a downloaded file is then deleted.
    """
    if mirror is not None:
        candidate = Path(mirror) / relative_path
        if not candidate.is_file():
            raise FileNotFoundError(f"{relative_path} is not in the mirror folder {mirror}")
        return verify(candidate, sha256)
    target = Path(raw_dir) / relative_path
    if target.is_file():
        return verify(target, sha256)
    if url is None:
        raise FileNotFoundError(f"{target} is missing and has no download address")
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s -> %s", url, target)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as part:
        tmp = Path(part.name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, part)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
    try:
        verify(tmp, sha256)
    except ChecksumError:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)
    return target
