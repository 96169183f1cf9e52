"""Reading an uploaded CSV as a stream: detect encoding and delimiter, refuse what is not a
CSV, yield rows with their line numbers. Never reads the whole file into memory
(docs/reference/reliability.md#csv-ingest: a 1M-row file must stay under 300 MB RSS).

Pure: works on any binary file object (an UploadedFile, a FieldFile, open(path, "rb")).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

SAMPLE_BYTES = 64 * 1024
# The longest header line read (a 50,000-column header is ~0.4 MB); longer is refused.
HEADER_MAX_BYTES = 1024 * 1024
DELIMITERS = ",;\t|"
# Cells are bounded so one malformed quote cannot swallow the rest of a huge file into memory.
csv.field_size_limit(1024 * 1024)

_BINARY_SIGNATURES = {
    b"PK\x03\x04": "it is a ZIP archive (an Excel .xlsx file?); save it as CSV first",
    b"\xd0\xcf\x11\xe0": "it is an old Excel/Office file; save it as CSV first",
    b"%PDF": "it is a PDF",
    b"\x89PNG": "it is an image",
    b"\xff\xd8\xff": "it is an image",
    b"\x1f\x8b": "it is gzip-compressed; unpack it first",
}
_LOOKS_LIKE_DATA = re.compile(
    r"^\s*(?:[\w.+-]+@[\w-]+\.[\w.-]+|[+\d][\d\s().-]{5,}|\d{4}-\d{2}-\d{2}.*)\s*$"
)


class CsvRefused(Exception):
    """The file cannot be imported; ``message`` says why, for the admin. Nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # "utf-8-sig" | "utf-8" | "cp1252"
    delimiter: str
    headers: list[str]


def csv_detect(binary: IO[bytes]) -> CsvFormat:
    """Look at the first 64 KB only, then rewind. Raises CsvRefused with a specific reason."""
    binary.seek(0)
    sample = _sample_with_whole_header(binary)
    binary.seek(0)
    if not sample.strip():
        raise CsvRefused("The file is empty.")
    for signature, why in _BINARY_SIGNATURES.items():
        if sample.startswith(signature):
            raise CsvRefused(f"This is not a CSV file: {why}.")
    if b"\x00" in sample:
        raise CsvRefused(
            "This is not a CSV file: it contains binary data (or is UTF-16; save it as UTF-8 CSV)."
        )
    encoding = _encoding(sample)
    text = sample.decode(encoding, errors="replace")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        first = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CsvRefused(f"This is not a readable CSV file: {exc}") from None
    headers = [cell.strip() for cell in first]
    if not any(headers):
        raise CsvRefused("The file has no header row: the first line is empty.")
    if any(_LOOKS_LIKE_DATA.match(cell) for cell in headers if cell):
        raise CsvRefused(
            "The file has no header row: the first line holds data (an email address, phone "
            "number or date) instead of column names. Add a header line with the column names."
        )
    return CsvFormat(encoding=encoding, delimiter=delimiter, headers=_unique(headers))


def _sample_with_whole_header(binary: IO[bytes]) -> bytes:
    """The first 64 KB, or more when the header line alone is longer (a 50,000-column
    export): cut at 64 KB it would lose columns and halve the last name. Up to
    HEADER_MAX_BYTES; a longer first line is refused, naming the limit."""
    sample = binary.read(SAMPLE_BYTES)
    while len(sample) % SAMPLE_BYTES == 0 and sample and b"\n" not in sample:
        if len(sample) >= HEADER_MAX_BYTES:
            raise CsvRefused(
                f"The header row is longer than {HEADER_MAX_BYTES // (1024 * 1024)} MB "
                "(or the file has no line breaks): split the columns into several files."
            )
        more = binary.read(SAMPLE_BYTES)
        if not more:
            break
        sample += more
    return sample


def _encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut at 64 KB is not an error
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" as cp1252; it decodes every byte but five, so it is the
        # fallback and not a guess among many (chardet would be a dependency for this one case).
        return "cp1252"
    return "utf-8"


def _delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text.splitlines() else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _unique(headers: list[str]) -> list[str]:
    """Blank and repeated headers get a name, so no column is silently lost."""
    seen: dict[str, int] = {}
    out = []
    for index, header in enumerate(headers, start=1):
        name = header or f"Column {index}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


def csv_rows(binary: IO[bytes], fmt: CsvFormat) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {header: cell}) for each data row; the header is row 1, like a
    spreadsheet. Blank lines are skipped; cells beyond the header are kept as "Column N"."""
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=fmt.encoding, newline="")
    reader = csv.reader(text, delimiter=fmt.delimiter)
    headers = fmt.headers
    try:
        next(reader)
        for number, cells in enumerate(reader, start=2):
            if not cells or not any(cell.strip() for cell in cells):
                continue
            row = dict(zip(headers, cells, strict=False))
            for extra in range(len(headers), len(cells)):
                row[f"Column {extra + 1}"] = cells[extra]
            yield number, row
    except UnicodeDecodeError:
        raise CsvRefused(
            f"The file is not valid {fmt.encoding}: a character further down could not be read. "
            "Save it as UTF-8 CSV and upload it again."
        ) from None
    except csv.Error as exc:
        raise CsvRefused(f"The file could not be read as CSV: {exc}.") from None
    finally:
        text.detach()  # leave the caller's file open


def csv_file_check(*, binary: IO[bytes]) -> None:
    """Read the whole file as CSV in its detected encoding; CsvRefused naming the problem
    (the row where a character cannot be decoded) if any. For callers that can afford to
    read a file twice before answering (the import_csv command)."""
    fmt = csv_detect(binary)
    for _row in csv_rows(binary, fmt):
        pass
    binary.seek(0)
