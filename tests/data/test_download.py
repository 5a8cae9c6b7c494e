"""Downloads are checked; a bad checksum or a missing file leaves nothing behind."""

from __future__ import annotations

import hashlib

import pytest

from workbench.data.download import ChecksumError, fetch


@pytest.fixture
def published(tmp_path):
    """A 'publisher': a file served by a file:// URL, and its digest."""
    origin = tmp_path / "publisher" / "file.csv"
    origin.parent.mkdir()
    origin.write_bytes(b"a,b\n1,2\n")
    return origin, hashlib.sha256(origin.read_bytes()).hexdigest()


def test_download_checks_the_digest(tmp_path, published):
    origin, digest = published
    path = fetch("set/file.csv", origin.as_uri(), digest, tmp_path / "raw")
    assert path.read_bytes() == origin.read_bytes()


def test_bad_checksum_leaves_no_partial_file(tmp_path, published):
    origin, _ = published
    with pytest.raises(ChecksumError, match="expected 0000"):
        fetch("set/file.csv", origin.as_uri(), "0000", tmp_path / "raw")
    assert not any((tmp_path / "raw" / "set").iterdir())


def test_mirror_is_read_in_place_and_checked(tmp_path, published):
    origin, digest = published
    mirror = origin.parent.parent
    assert fetch("publisher/file.csv", None, digest, tmp_path / "raw", mirror) == origin
    with pytest.raises(ChecksumError):
        fetch("publisher/file.csv", None, "f" * 64, tmp_path / "raw", mirror)
    with pytest.raises(FileNotFoundError, match="not in the mirror"):
        fetch("publisher/other.csv", None, digest, tmp_path / "raw", mirror)
