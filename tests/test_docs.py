"""Every figure in README.md and docs/*.md traces to a command.

The convention
--------------
A *section* runs from a markdown heading to the next heading of any level. A section that
states a measured figure carries, as a paragraph of its own, a line

    Reproduce: `<command>` (measured at commit <sha>[, <date>][, <note>])

with one or more commands in backticks (separated by ``;``) and the commit the figures were
measured at (a figure that is still the same at a later commit keeps the commit that wrote it;
``git log -S'<figure>' -- <file>`` finds it). A section may carry several such lines. A command
is one of

- ``.venv/bin/python benchmarks/<script>.py [--option ...]``: the script exists and defines
  every ``--option`` named;
- ``.venv/bin/workbench run <config> [--only <notebook>] [...]``: ``<config>`` is a file or a
  name in ``experiments/``, ``<notebook>`` is in ``notebooks/``;
- ``.venv/bin/pytest <path>[::<test>] [...]``: the test file (and test) exists;
- ``make <target>``: a target of the Makefile.

Environment assignments in front (``WORKBENCH_DATA_MIRROR=... .venv/bin/workbench run ...``)
are allowed.

What counts as a figure
-----------------------
Outside code (fenced blocks, indented code blocks, inline code spans), link targets, headings
and the ``Reproduce:`` lines themselves:

- a decimal number: ``0.137``, ``19.3``, ``-0.017``;
- a quantity of time, memory or speed-up: ``72 s``, ``0.5 ms``, ``3 min``, ``2 GB``,
  ``20 times``, and durations in words (``two minutes``, ``about a minute``).

Not figures: version numbers (two dots, ``0.4.1``, ``0.5.x``, or after ``Python``:
``Python < 3.11``), ranges ``a-b`` (``0.5-50``, search spaces and scales in definitions), dates,
integers without a unit (data sizes, counts, issue numbers, percentages of configuration such
as a 95 % interval), and anything in backticks: configuration values and parameter defaults are
written as code (``stable_ari`` (``0.95``)). A result that is an integer (a regret of 36, "3
groups to the 4 planted ones") is not detected by this check, but the convention applies to it
all the same. The commit is checked for its form (7-40 hex digits), not looked up in git, so the
check stays pure text parsing.
"""

from __future__ import annotations

import bisect
import itertools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

HEADING = re.compile(r"^#{1,6}\s")
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+\1")
LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+")
VERSION = re.compile(r"\bPython\s*(?:[<>=!~]=?\s*)?\d+(?:\.\d+)+|\d+(?:\.\w+){2,}")
DECIMAL = re.compile(r"(?<![\w.])(?<!\d-)[-+]?\d+\.\d+(?![\w.]*\d)(?!-\d)")
UNIT = re.compile(
    r"(?<![\w.])(?<!\d-)\d+(?:\.\d+)?(?: ?(?:ms|min|minutes?|seconds?|hours?|[KMG]i?B)\b"
    r"| (?:s|h|times)\b)"
)
WORDS = re.compile(
    r"\b(?:(?:one|two|three|four|five|six|seven|eight|nine|ten)(?: and a half)?|a few|several)"
    r"\s+(?:milliseconds?|seconds?|minutes?|hours?)\b"
    r"|\b(?:a|an|half an?)\s+(?:millisecond|minute|hour)\b",  # not "a second run"
    re.IGNORECASE,
)
REPRODUCE = re.compile(
    r"^Reproduce:\s+(?P<commands>`[^`]+`(?:\s*;\s*`[^`]+`)*)\s+"
    r"\(measured at commit [0-9a-f]{7,40}\b[^)]*\)\.?$"
)
PYTHON, WORKBENCH, PYTEST = ".venv/bin/python", ".venv/bin/workbench", ".venv/bin/pytest"


@dataclass
class Section:
    """The text of one heading up to the next: figures found and ``Reproduce:`` paragraphs."""

    heading: str
    figures: list[tuple[int, str]] = field(default_factory=list)
    reproduce: list[tuple[int, str]] = field(default_factory=list)


def prose_lines(text: str):
    """``(line number, line)`` of every line outside code blocks (headings and blanks too).

    A fenced block (```` ``` ```` or ``~~~``) is code; so is a run of lines indented by four
    spaces that starts after a blank line, unless the last line of prose before it is a list
    item or a list item's continuation (then it continues the list).
    """
    in_fence = in_code = False
    previous_blank, last_prose = True, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if not line.strip():
            previous_blank = True
            yield number, line
            continue
        continues_list = LIST_ITEM.match(last_prose) or last_prose.startswith((" ", "\t"))
        if line.startswith("    ") and (in_code or (previous_blank and not continues_list)):
            in_code, previous_blank = True, False
            continue
        in_code, previous_blank, last_prose = False, False, line
        yield number, line


def figures_in(text: str) -> list[tuple[int, str]]:
    """``(offset, figure)`` of every figure in ``text``, in order (see the module docstring)."""

    def blank(match: re.Match) -> str:  # keeps offsets
        return " " * len(match.group(0))

    plain = VERSION.sub(blank, LINK_TARGET.sub(blank, CODE_SPAN.sub(blank, text)))
    quantities = [m for pattern in (UNIT, WORDS) for m in pattern.finditer(plain)]
    decimals = [
        m
        for m in DECIMAL.finditer(plain)
        if not any(q.start() <= m.start() < q.end() for q in quantities)
    ]
    return [(m.start(), m.group(0)) for m in sorted(quantities + decimals, key=lambda m: m.start())]


def sections(text: str) -> list[Section]:
    """Split ``text`` at its headings; collect figures and ``Reproduce:`` paragraphs."""
    result = [Section("(before the first heading)")]
    paragraph: list[tuple[int, str]] = []

    def close_paragraph() -> None:
        joined = " ".join(line.strip() for _, line in paragraph)
        if paragraph and joined.startswith("Reproduce:"):
            result[-1].reproduce.append((paragraph[0][0], joined))
        elif paragraph:  # figures may wrap across lines ("two and a half\nminutes")
            lengths = [len(line.strip()) + 1 for _, line in paragraph]
            starts = [0, *itertools.accumulate(lengths)]
            for offset, figure in figures_in(joined):
                index = bisect.bisect_right(starts, offset) - 1
                result[-1].figures.append((paragraph[index][0], figure))
        paragraph.clear()

    for number, line in prose_lines(text):
        if HEADING.match(line):
            close_paragraph()
            result.append(Section(line.strip()))
        elif not line.strip():
            close_paragraph()
        else:
            paragraph.append((number, line))
    close_paragraph()
    return result


def command_problems(command: str) -> list[str]:
    """Why ``command`` does not name something that exists in the repository (empty if it does)."""
    words = shlex.split(command)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        words = words[1:]
    if len(words) >= 2 and words[0] == PYTHON and words[1].startswith("benchmarks/"):
        script = ROOT / words[1]
        if not script.is_file():
            return [f"{words[1]} does not exist"]
        source = script.read_text()
        if "from common import" in source:
            source += (ROOT / "benchmarks" / "common.py").read_text()
        options = [word.split("=")[0] for word in words[2:] if word.startswith("--")]
        return [f"{words[1]} has no option {o}" for o in options if f'"{o}"' not in source]
    if len(words) >= 3 and words[0] == WORKBENCH and words[1] == "run":
        config = words[2]
        candidates = [ROOT / config, ROOT / "experiments" / config]
        candidates.append(ROOT / "experiments" / f"{config}.yaml")
        problems = [] if any(p.is_file() for p in candidates) else [f"no configuration {config}"]
        for flag, value in zip(words, words[1:], strict=False):
            if flag == "--only" and not (ROOT / "notebooks" / f"{value}.ipynb").is_file():
                problems.append(f"no notebook notebooks/{value}.ipynb")
        return problems
    if len(words) >= 2 and words[0] == PYTEST:
        problems = []
        for word in words[1:]:
            if word.startswith("-") or not word.startswith("tests"):
                continue
            path, _, test = word.partition("::")
            if not (ROOT / path).exists():
                problems.append(f"{path} does not exist")
            elif test and f"def {test.split('::')[-1].split('[')[0]}(" not in (
                (ROOT / path).read_text()
            ):
                problems.append(f"{path} has no test {test}")
        return problems
    if len(words) == 2 and words[0] == "make":
        targets = re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE)
        return [] if words[1] in targets else [f"the Makefile has no target {words[1]}"]
    return [f"not a benchmark script, workbench run, pytest or make command: {command}"]


def reproduce_problems(line: str) -> list[str]:
    """Why a ``Reproduce:`` paragraph breaks the convention (empty if it does not)."""
    match = REPRODUCE.match(line)
    if match is None:
        return [
            f"malformed line {line!r}: want Reproduce: `<command>` "
            "(measured at commit <sha>[, <date>])"
        ]
    commands = re.findall(r"`([^`]+)`", match["commands"])
    return [problem for command in commands for problem in command_problems(command)]


def document_problems(path: Path) -> list[str]:
    """Every breach of the convention in one markdown file, naming the heading and figure."""
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    problems = []
    for section in sections(path.read_text(encoding="utf-8")):
        for number, line in section.reproduce:
            problems += [
                f"{name}:{number} {section.heading!r}: {p}" for p in reproduce_problems(line)
            ]
        if section.figures and not section.reproduce:
            number, figure = section.figures[0]
            more = len(section.figures) - 1
            problems.append(
                f"{name}:{number} {section.heading!r}: figure {figure!r}"
                + (f" (and {more} more)" if more else "")
                + " has no 'Reproduce: `<command>` (measured at commit <sha>)' line"
            )
    return problems


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_figure_traces_to_a_command(path):
    problems = document_problems(path)
    assert not problems, "\n".join(problems)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_a_section_with_a_figure_and_no_reproduce_line_is_named(tmp_path):
    doc = write(tmp_path, "# Title\n\nNo figure here.\n\n## Results\n\nnDCG@10 0.4810.\n")
    (problem,) = document_problems(doc)
    assert "'## Results'" in problem
    assert "'0.4810'" in problem
    assert ":7 " in problem


def test_a_reproduce_line_with_an_existing_script_and_option_satisfies_it(tmp_path):
    text = (
        "## Results\n\nnDCG@10 0.4810, fit 5.7 s.\n\n"
        "Reproduce: `.venv/bin/python benchmarks/ope.py --n-runs 5`; "
        "`.venv/bin/workbench run default --only 60_bandits`\n"
        "(measured at commit 6139345, 2026-11-28)\n"
    )
    assert document_problems(write(tmp_path, text)) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (".venv/bin/python benchmarks/nowhere.py", "benchmarks/nowhere.py does not exist"),
        (".venv/bin/python benchmarks/ope.py --no-such-flag", "has no option --no-such-flag"),
        (".venv/bin/workbench run nowhere", "no configuration nowhere"),
        (".venv/bin/workbench run default --only 99_nothing", "no notebook"),
        (".venv/bin/pytest tests/test_docs.py::test_nothing", "has no test"),
        ("make nothing", "no target nothing"),
        ("python somewhere.py", "not a benchmark script"),
    ],
)
def test_a_command_that_names_nothing_in_the_repository_is_refused(command, expected):
    (problem,) = command_problems(command)
    assert expected in problem


def test_commands_that_exist_are_accepted():
    for command in (
        "WORKBENCH_DATA_MIRROR=../shared/data .venv/bin/workbench run experiments/default.yaml",
        ".venv/bin/pytest tests/test_docs.py::test_commands_that_exist_are_accepted",
        "make run",
    ):
        assert command_problems(command) == [], command


def test_a_reproduce_line_without_a_commit_is_malformed(tmp_path):
    text = "## Results\n\n0.4810\n\nReproduce: `.venv/bin/python benchmarks/ope.py`\n"
    (problem,) = document_problems(write(tmp_path, text))
    assert "malformed" in problem


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MAP 0.1461 and -0.017, fit 19.3 s", ["0.1461", "-0.017", "19.3 s"]),
        ("3 min 20 s under a load of 11, 0.5 ms", ["3 min", "20 s", "0.5 ms"]),
        ("about a millisecond, wrapped\nover lines", ["a millisecond"]),
        ("a second run gave the same figures in half an hour", ["half an hour"]),
        (
            "about 20 times slower; about two and a half minutes",
            ["20 times", "two and a half minutes"],
        ),
        ("Python 3.11, Python < 3.11, obp 0.5.x, release 0.4.1", []),
        ("`alpha` 0.5-50, `learning_rate` 1e-3-0.2, load 6-11", []),
        ("`stable_ari` (`0.95`), a 95 % interval, 2,000 users, 2026-11-28, issue 17", []),
        ("see [the table](docs/v1.2/table.md)", []),
    ],
)
def test_what_counts_as_a_figure(line, expected):
    assert [figure for _, figure in figures_in(line)] == expected


def test_code_blocks_are_not_prose(tmp_path):
    text = (
        "## Running\n\n```\nfit 0.6 s\n```\n\n    .venv/bin/python x.py  # 0.5 s\n\n"
        "1. A list item\n\n    continued 0.7\n"
    )
    (section,) = [s for s in sections(text) if s.heading == "## Running"]
    assert section.figures == [(11, "0.7")]
