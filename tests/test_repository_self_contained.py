"""The repository stands on its own: no tracked file points at documents outside it.

The facts the code relies on live in docs/ (docs/architecture.md, docs/reference/*.md) with
their public sources; comments point there. A reference to the founders' notes, a numbered
section of them, or an issue number would send the next engineer to something they cannot
open.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Built from pieces so this file does not match itself.
_FORBIDDEN = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape("providers" + ".md"),
            re.escape("reliability-security" + ".md"),
            re.escape("django-libraries" + ".md"),
            re.escape("ARCHITECTURE" + ".md"),
            re.escape("quality-monitoring" + ".md"),
            "\u00a7" + r"\s?[0-9A-Z]",  # a numbered section of an outside document
            r"\bissue " + r"\d+",
            r"\b[Tt]he " + r"issue\b",
        ]
    )
)


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # an exported tree without git
        names = [
            p.relative_to(ROOT).as_posix()
            for p in ROOT.rglob("*")
            if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts
        ]
    return [ROOT / name for name in names if name != SELF]


def test_no_tracked_file_refers_to_a_document_outside_the_repository():
    offenders = []
    files = _tracked_files()
    assert len(files) > 100  # the listing worked
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files, and files deleted but not yet committed
        for number, line in enumerate(text.splitlines(), start=1):
            if _FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert offenders == [], "point these at docs/ instead:\n" + "\n".join(offenders)


def test_the_check_catches_each_kind_of_reference():
    for sample in (
        "see " + "providers" + ".md for the limits",
        "(" + "\u00a7" + "1.10)",
        "as in issue " + "5",
        "The " + "issue says so",
        "../" + "shared/reference/notes.md",
        "ARCHITECTURE" + ".md: Load",
    ):
        assert _FORBIDDEN.search(sample), sample
    assert not _FORBIDDEN.search("docs/architecture.md, docs/reference/hubspot.md#rate-limits")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces → -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_docs_reference_anchor_exists():
    anchors = {
        path.name: {_anchor(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}
        for path in (ROOT / "docs" / "reference").glob("*.md")
    }
    missing = []
    for path in _tracked_files():
        if path.suffix not in {".py", ".md"} or not path.exists():
            continue
        for match in re.finditer(
            r"docs/reference/(\w+\.md)((?:#[\w-]+)?(?:, #[\w-]+)*)", path.read_text()
        ):
            name, fragments = match.group(1), re.findall(r"#([\w-]+)", match.group(2))
            if name not in anchors:
                missing.append(f"{path.relative_to(ROOT)}: {name}")
            missing += [
                f"{path.relative_to(ROOT)}: {name}#{a}"
                for a in fragments
                if a not in anchors.get(name, set())
            ]
    assert missing == []
