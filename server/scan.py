"""Find threemin keys in files and text: `threemin scan`, the pre-commit hook.

Pure: no database, no settings, no network, so it runs in any folder. A
candidate must match `keys.PATTERN` *and* pass `keys.parse`'s CRC32 check,
which turns the pattern's look-alikes (examples, typos, truncations) into
silence instead of noise. A finding never holds the key itself, only its
masked form and SHA-256, so no output path can print it by mistake.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from server import keys

SKIP_DIRS = frozenset({".git", ".venv", "node_modules", "__pycache__"})
MAX_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8192  # what git and grep look at to call a file binary


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int  # 1-based; lines end at "\n" only, so CRLF files count like editors do
    column: int  # 1-based, in characters of the UTF-8-decoded line
    environment: str
    masked: str
    sha256: str  # of the full key: GitHub's `token_hash`, matches a leak report without the key

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.masked} ({self.environment} key)"


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    scanned_files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why), for the summary


def scan_line(line: str, path: str, number: int) -> Iterator[Finding]:
    if "tm_" not in line:  # most lines: skip the regex entirely
        return
    for match in keys.PATTERN.finditer(line):
        parsed = keys.parse(match.group())
        if parsed is None:
            continue  # right shape, wrong checksum: a look-alike, not a key
        yield Finding(
            path,
            number,
            match.start() + 1,
            parsed.environment.value,
            keys.mask(parsed.plaintext),
            hashlib.sha256(parsed.plaintext.encode("ascii")).hexdigest(),
        )


def scan_text(text: str, path: str = "<text>") -> list[Finding]:
    return [f for number, line in enumerate(text.split("\n"), 1) for f in scan_line(line, path, number)]


def scan_stream(stream: Iterable[bytes], path: str) -> list[Finding]:
    """Line by line, so a `git diff` of any size on stdin needs no memory for the whole.

    Splitting bytes at b"\\n" never cuts a UTF-8 sequence; undecodable bytes
    become U+FFFD, which cannot hide a key (keys are ASCII).
    """
    findings: list[Finding] = []
    for number, raw in enumerate(stream, 1):
        findings.extend(scan_line(raw.decode("utf-8", "replace"), path, number))
    return findings


def walk(root: Path) -> Iterator[Path]:
    """Regular files under root, sorted, never through a symlink.

    Symlinks met on the way are not followed: one pointing out of the tree
    would scan someone else's files (git commits the link, not its target),
    and one pointing inside is scanned at its target anyway. Like `grep -r`,
    a symlink named on the command line is followed: the caller chose it.
    """
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return  # unreadable folder: nothing we can report on
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if entry.name not in SKIP_DIRS:
                yield from walk(Path(entry.path))
        elif entry.is_file():  # FIFOs, sockets and devices would block or never end
            yield Path(entry.path)


def scan_file(path: Path, max_bytes: int, report: Report) -> None:
    try:
        if path.stat().st_size > max_bytes:
            report.skipped.append((str(path), f"over {max_bytes} bytes"))
            return
        with path.open("rb", buffering=max(SNIFF_BYTES, 65536)) as stream:
            # peek() does one read and keeps it buffered, so pipes (`<(git diff)`) work too.
            if b"\0" in stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]:
                report.skipped.append((str(path), "binary"))
                return
            report.findings.extend(scan_stream(stream, str(path)))
    except OSError as error:
        report.skipped.append((str(path), error.strerror or "unreadable"))
        return
    report.scanned_files += 1


def scan_paths(paths: Iterable[Path], max_bytes: int = MAX_BYTES) -> Report:
    """Files are scanned as named (pre-commit names files inside node_modules too);
    the skipped folder names apply only to what the walk finds."""
    report = Report()
    for path in paths:
        for file in walk(path) if path.is_dir() else [path]:
            scan_file(file, max_bytes, report)
    return report


def scan_stdin(stream: BinaryIO) -> Report:
    # No size limit and no binary check: what is piped in was chosen, and is streamed.
    return Report(findings=scan_stream(stream, "<stdin>"), scanned_files=1)
