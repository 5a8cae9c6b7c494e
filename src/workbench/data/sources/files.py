"""Your own data: CSV, TSV or parquet files laid out as the data contract says.

Pass ``events`` (required) and optionally ``users``, ``items`` and ``consent`` as file paths
in the configuration's ``data.options`` (relative paths resolve against the configuration
file). Column names must be the contract's; ``categories`` in a CSV is a ``|``-separated
string. Timestamps are parsed by curation.

Text files may be compressed (``.gz``, ``.bz2``, ``.xz``, ``.zip``). The encoding is found
from a byte-order mark (UTF-8, UTF-16, UTF-32) or from the zero bytes of UTF-16 without one,
else UTF-8, unless ``encoding`` is given; bytes that are not valid text become U+FFFD and
their rows are quarantined (``bad_encoding``). The delimiter is taken from the suffix
(``.tsv``) or found in the header among ``, ; TAB |``, unless ``delimiter`` is given. Errors
name the file and the line, and never quote a value.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zipfile
from pathlib import Path

import pandas as pd

from workbench.data.errors import InputError
from workbench.data.sources.base import Source

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")


class SourceFileError(InputError):
    """An input file is unusable as a whole: missing, empty, or in the wrong format."""


def _raw_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed."""
    suffix = path.suffix.lower()
    if suffix in COMPRESSIONS:
        with COMPRESSIONS[suffix](path, "rb") as handle:
            return handle.read()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise SourceFileError(f"{path}: a zip file must hold exactly one file")
            return archive.read(members[0])
    return path.read_bytes()


def detect_encoding(data: bytes, encoding: str | None = None) -> str:
    """The encoding of ``data``: ``encoding`` when given, a byte-order mark, UTF-16's zero
    bytes, else UTF-8."""
    if encoding:
        return encoding
    for mark, name in BOMS:
        if data.startswith(mark):
            return name
    head = data[:4096]
    if len(head) >= 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) / 4 and even < len(head) / 40:
            return "utf-16-le"
        if even > len(head) / 4 and odd < len(head) / 40:
            return "utf-16-be"
    return "utf-8"


def detect_delimiter(header: str, path: Path, delimiter: str | None = None) -> str:
    """The delimiter: ``delimiter`` when given, tab for ``.tsv``, else the one the header
    line holds most of (outside quotes)."""
    if delimiter:
        return "\t" if delimiter in ("\\t", "tab", "TAB") else delimiter
    names = [s.lower() for s in path.suffixes]
    if ".tsv" in names or ".tab" in names:
        return "\t"
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _text(path: Path, encoding: str | None) -> str:
    data = _raw_bytes(path)
    if not data.strip():
        raise SourceFileError(f"{path}: the file is empty")
    chosen = detect_encoding(data, encoding)
    try:
        text = data.decode(chosen, errors="replace" if chosen.startswith("utf-8") else "strict")
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceFileError(
            f"{path}: cannot be read as {chosen}: {getattr(error, 'reason', error)}; "
            f"set the encoding (data.options.encoding)"
        ) from None
    if "\x00" in text[:4096] and not encoding:
        raise SourceFileError(
            f"{path}: holds zero bytes, as UTF-16 or UTF-32 text without a byte-order mark "
            f"does; set the encoding (data.options.encoding, e.g. utf-16-le)"
        )
    return text.lstrip("\ufeff")


def _header(text: str, separator: str, path: Path) -> list[str]:
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=separator), [])
    names = [name.strip().lstrip("\ufeff") for name in first]
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        from workbench.data.quality import describe_columns

        raise SourceFileError(
            f"{path}: line 1: the header names column(s) {describe_columns(repeated)} more "
            f"than once; rename or remove the repeats"
        )
    return names


def _parse_error(path: Path, error: Exception) -> SourceFileError:
    """The parser's complaint with the file and the line, and without any value."""
    message = str(error)
    line = re.search(r"line (\d+)", message)
    row = re.search(r"row (\d+)", message)  # 0-based, the header being row 0
    number = int(line.group(1)) if line else (int(row.group(1)) + 1 if row else None)
    where = f"line {number}" if number else "a line"
    if "EOF inside string" in message or "EOF" in message and "quote" in message:
        what = "a quote opened here is never closed (unbalanced quote)"
    elif "Expected" in message and "fields" in message:
        counts = re.search(r"Expected (\d+) fields.*saw (\d+)", message)
        what = (
            f"{counts.group(2)} fields where the header has {counts.group(1)}"
            if counts
            else "more fields than the header"
        )
    else:
        what = "cannot be parsed"
    return SourceFileError(f"{path}: {where}: {what}")


def read_text_file(path: Path, delimiter: str | None = None, encoding: str | None = None):
    """Read one delimited text file as strings; see the module docstring."""
    text = _text(path, encoding)
    separator = detect_delimiter(text.split("\n", 1)[0], path, delimiter)
    _header(text, separator, path)
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=separator,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            engine="c",
        )
    except pd.errors.ParserError as error:
        raise _parse_error(path, error) from None
    except pd.errors.EmptyDataError:
        raise SourceFileError(f"{path}: the file has no header and no rows") from None


def read_file(
    path: Path, delimiter: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """Read one CSV/TSV (maybe compressed) or parquet file; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".parquet":
        frame = pd.read_parquet(path)
    elif any(s in TEXT_SUFFIXES for s in suffixes) or suffixes[-1:] in ([".gz"], [".zip"]):
        if path.stat().st_size == 0:
            raise SourceFileError(f"{path}: the file is empty")
        frame = read_text_file(path, delimiter, encoding)
    else:
        raise SourceFileError(
            f"{path}: unsupported file type {''.join(suffixes)!r} (csv, tsv or parquet)"
        )
    if frame.empty:
        raise SourceFileError(f"{path}: the file has no rows")
    frame.attrs["source_file"] = str(path)
    return frame


def load(
    raw_dir: Path | None = None,
    mirror: Path | None = None,
    events: str = "",
    users: str = "",
    items: str = "",
    consent: str = "",
    base_dir: str = "",
    delimiter: str = "",
    encoding: str = "",
) -> dict[str, pd.DataFrame]:
    """Read the named files (relative paths resolve against ``base_dir``).

    Parameters
    ----------
    events, users, items, consent : str
        Paths of the tables (``events`` is required).
    base_dir : str
        Folder of relative paths (the configuration's folder; the working directory when
        empty).
    delimiter, encoding : str
        For every text file; found in each file when empty.
    """
    if not events:
        raise SourceFileError("the files source needs data.options.events: a CSV or parquet path")
    base = Path(base_dir) if base_dir else Path.cwd()
    tables = {}
    for table, name in (
        ("events", events),
        ("users", users),
        ("items", items),
        ("consent", consent),
    ):
        if name:
            tables[table] = read_file(base / name, delimiter or None, encoding or None)
    if "items" in tables and "categories" in tables["items"]:
        categories = tables["items"]["categories"]
        if categories.map(lambda v: isinstance(v, str) or v is None).all():
            tables["items"]["categories"] = (
                categories.fillna("").str.split("|").map(lambda values: [v for v in values if v])
            )
    return tables


SOURCE = Source("files", load)
