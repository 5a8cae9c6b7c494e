"""What the benchmark scripts share: where the public data sets are read from."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--mirror`` (``WORKBENCH_DATA_MIRROR``, else ``../shared/data``) and ``--raw-dir``.

    With a mirror, files are read from it in place and ``--raw-dir`` is not used; with
    ``--mirror ''`` they are downloaded from the publisher into ``--raw-dir`` (checked by
    sha256) and read from there on later runs.
    """
    parser.add_argument(
        "--mirror",
        default=os.environ.get("WORKBENCH_DATA_MIRROR", str(ROOT.parent / "shared" / "data")),
        help="folder laid out like ../shared/data; empty to download from the publisher",
    )
    parser.add_argument(
        "--raw-dir",
        default=str(ROOT / "data" / "raw"),
        help="where downloads land and are kept when no mirror is given (default: data/raw)",
    )
