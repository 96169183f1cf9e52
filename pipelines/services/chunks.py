"""Staging a CSV run in chunks, so several workers share one big file.

A run's file is planned once: one pass of the CSV reader over the whole file (about 2 µs a
row) cuts it into slices of whole rows and checks every byte decodes, so a file that cannot
be read is refused before any record is written. Each slice (RunChunk) is then staged by its
own task, in its own transaction, and the run is staged when the last chunk is. On two cores
two chunks stage at once; one process alone does about half the rows per second.

Why not one task per row or per 100 rows: Celery costs about 1 ms a task here
(docs/reference/reliability.md#task-granularity). A chunk is CHUNK_ROWS rows, about a second of work.

Chunks are claimed from the database (docs/operations.md, "Work is claimed from the
database"): a staging task is woken for the run, not for a chunk, and stages the next chunk
nobody holds (SELECT … FOR UPDATE SKIP LOCKED: the chunk's row lock, held for its staging
transaction, is its lease) until none is left. A staging task that dies leaves nothing (its
transaction rolls back and PostgreSQL drops its lock); the sweeper wakes a new one when the
run has unstaged chunks and no worker heartbeat.
"""

from __future__ import annotations

import codecs
import csv
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from integrations.inbound import NUL, nul_strip
from pipelines.csv_files import CsvFormat, CsvRefused, csv_detect
from pipelines.mapping import columns_match, mapping_rules
from pipelines.models import (
    BatchState,
    RecordSource,
    RecordState,
    Run,
    RunBatch,
    RunChunk,
    RunRecord,
    RunStatus,
    SkipReason,
)
from pipelines.services.batch_cuts import (
    MatchKeys,
    chunk_batches_cut,
    chunk_duplicate_keys,
)
from pipelines.services.staged_records import (
    RecordWriter,
    RowsNotStored,
    StagedInput,
    cyclic_gc_paused,
    inputs_stage,
)

CHUNK_ROWS = 10_000
# The first chunk is small: loading starts when it is staged (docs/operations.md, "Staging and
# loading overlap"), and 1,000 rows stage in a fraction of the second 10,000 take.
FIRST_CHUNK_ROWS = 1_000
CHUNK_BYTES = 8 * 1024 * 1024  # wide rows: a chunk's bytes are read into memory at once


def _run_format(run: Run, binary: IO[bytes]) -> CsvFormat:
    """The format found when the file was uploaded (encoding and delimiter are kept on the
    run), with the headers read again. Not detected afresh: a chunk must read the file the
    way the upload check and the plan did."""
    detected = csv_detect(binary)
    return CsvFormat(
        encoding=run.file_encoding or detected.encoding,
        delimiter=run.file_delimiter or detected.delimiter,
        headers=detected.headers,
    )


def _unreadable(fmt: CsvFormat, row_number: int) -> CsvRefused:
    return CsvRefused(
        f"The file is not valid {fmt.encoding}: a character on row {row_number} could not be read. "
        "Save it as UTF-8 CSV and upload it again."
    )


def _file_lines(
    binary: IO[bytes], fmt: CsvFormat, offsets: list[int], rows: list[int]
) -> Iterator[str]:
    """Decoded lines for the planning reader, keeping ``offsets[0]`` at the byte after the
    last line handed out. Lines split on b"\\n" are whole characters in UTF-8 and cp1252 (no
    multi-byte sequence holds that byte), so decoding line by line is exact."""
    decoder = codecs.getincrementaldecoder(fmt.encoding)()
    for line in binary:
        # Old Mac Excel ends lines with a lone "\r": a file of those is one "line" here, so it
        # is cut at each line end, as the universal-newline reading of the chunks does.
        pieces = line.splitlines(keepends=True) if b"\r" in line[:-2] else (line,)
        for piece in pieces:
            offsets[0] += len(piece)
            try:
                yield decoder.decode(piece)
            except UnicodeDecodeError:
                raise _unreadable(fmt, rows[0] + 1) from None


def run_chunks_plan(*, run: Run) -> int:
    """Cut the run's file into chunks (idempotent: a planned run keeps its chunks). Raises
    CsvRefused for a file that cannot be read to the end; then nothing is written. Call in a
    transaction holding the run's row lock."""
    existing = run.chunks.count()
    if existing:
        return existing
    chunks: list[RunChunk] = []
    with run.input_file.open("rb") as binary:
        fmt = _run_format(run, binary)
        offsets, rows = [0], [1]  # bytes read, rows read (the header is row 1)
        reader = csv.reader(_file_lines(binary, fmt, offsets, rows), delimiter=fmt.delimiter)
        start, first_row, in_chunk = 0, 2, 0
        headers, width = fmt.headers, len(fmt.headers)
        match_keys = _plan_match_keys(run, headers)
        row_keys: list[tuple[int, str]] = []  # (chunk index, match key) of every row
        try:
            next(reader, None)  # the header
            start = offsets[0]
            for cells in reader:
                rows[0] += 1
                in_chunk += 1
                row, _removed = _csv_row(headers, cells, width, has_nul=NUL in "".join(cells))
                row_keys.append((len(chunks), match_keys.of(row)))
                rows_wanted = CHUNK_ROWS if chunks else min(FIRST_CHUNK_ROWS, CHUNK_ROWS)
                if in_chunk >= rows_wanted or offsets[0] - start >= CHUNK_BYTES:
                    chunks.append(
                        RunChunk(
                            run=run,
                            sequence=len(chunks) + 1,
                            byte_start=start,
                            byte_end=offsets[0],
                            first_row_number=first_row,
                            rows=in_chunk,
                        )
                    )
                    start, first_row, in_chunk = offsets[0], rows[0] + 1, 0
        except csv.Error as exc:
            raise CsvRefused(
                f"The file could not be read as CSV (row {rows[0] + 1}): {exc}."
            ) from None
        if in_chunk:
            chunks.append(
                RunChunk(
                    run=run,
                    sequence=len(chunks) + 1,
                    byte_start=start,
                    byte_end=offsets[0],
                    first_row_number=first_row,
                    rows=in_chunk,
                )
            )
    held = chunk_duplicate_keys(row_keys)
    for index, chunk in enumerate(chunks):
        chunk.duplicate_keys = held.get(index, [])
    RunChunk.objects.bulk_create(chunks)
    return len(chunks)


def _chunk_rows(
    binary: IO[bytes], fmt: CsvFormat, chunk: RunChunk
) -> Iterator[tuple[int, StagedInput]]:
    """(position, input) for each non-blank row of the slice. A record's position in the run
    is its row number less one, so chunks staged in any order keep the file's order."""
    binary.seek(chunk.byte_start)
    data = binary.read(chunk.byte_end - chunk.byte_start)
    # The BOM of utf-8-sig is in the header, never in a chunk.
    encoding = "utf-8" if fmt.encoding == "utf-8-sig" else fmt.encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        # Lines before the bad byte: the row, give or take cells holding line breaks.
        raise _unreadable(fmt, chunk.first_row_number + data.count(b"\n", 0, exc.start)) from None
    del data
    headers = fmt.headers
    width = len(headers)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)
    csv_source = RecordSource.CSV
    # PostgreSQL cannot store U+0000 and SQLite can: removed on both alike, with a warning on
    # the record (integrations/inbound.py). One scan of the chunk; rows only when it has one.
    has_nul = NUL in text
    try:
        for number, cells in enumerate(reader, start=chunk.first_row_number):
            if not "".join(
                cells
            ).strip():  # blank line, or only blank cells (~1 µs less than any())
                continue
            row, removed = _csv_row(headers, cells, width, has_nul=has_nul)
            yield (
                number - 1,
                StagedInput(raw=row, source=csv_source, row_number=number, nul_removed=removed),
            )
    except csv.Error as exc:
        raise CsvRefused(f"The file could not be read as CSV: {exc}.") from None


def _csv_row(
    headers: list[str], cells: list[str], width: int, *, has_nul: bool
) -> tuple[dict[str, str], int]:
    """A CSV row as a record's raw input (cells past the header named "Column N"), and how
    many NUL characters were removed from it. The plan's match keys read rows the same way."""
    row = dict(zip(headers, cells, strict=False))
    for extra in range(width, len(cells)):
        row[f"Column {extra + 1}"] = cells[extra]
    if has_nul:
        return nul_strip(row)
    return row, 0


def _plan_match_keys(run: Run, headers: list[str]) -> MatchKeys:
    rules = run.mapping_version.rules
    columns = columns_match(headers, rules).matched
    return MatchKeys(mapping_rules(rules), columns, match_on=run.workflow.match_on)


def run_chunk_stage(*, chunk_id: int, wake_loader: bool = True) -> int:
    """Stage this chunk in one transaction; returns its run's id. A chunk already staged, or
    being staged by another worker (row locked), is left alone."""
    run_id = RunChunk.objects.values_list("run_id", flat=True).get(pk=chunk_id)
    _chunk_claim_and_stage(
        RunChunk.objects.filter(pk=chunk_id), run_id=run_id, wake_loader=wake_loader
    )
    return run_id


def run_chunk_stage_next(*, run_id: int) -> bool:
    """Claim the run's next chunk nobody is staging and stage it; False when none is left."""
    Run.objects.filter(pk=run_id).update(worker_seen_at=timezone.now())  # heartbeat (~1 a second)
    unstaged = RunChunk.objects.filter(run_id=run_id, staged_at__isnull=True).order_by("sequence")
    return _chunk_claim_and_stage(unstaged, run_id=run_id, wake_loader=True)


def _chunk_claim_and_stage(chunks: QuerySet[RunChunk], *, run_id: int, wake_loader: bool) -> bool:
    """Lock the first free chunk of ``chunks`` and stage it, in one transaction. A chunk that
    turns out unreadable (the file changed since planning) fails the run and removes what its
    other chunks staged: a refused file keeps no records."""
    with transaction.atomic():
        chunk = (
            chunks.select_for_update(skip_locked=True, of=("self",))
            .select_related("run__workflow", "run__mapping_version")
            .first()
        )
        if chunk is None or chunk.staged_at is not None or chunk.run.is_finished:
            return False
        refusal = _chunk_stage(chunk, wake_loader=wake_loader)
        if refusal is _TRY_AGAIN:
            return (
                False  # its rows were rolled back, the failure count kept; the sweeper re-sends it
            )
        if refusal is not None:
            transaction.set_rollback(True)
    if refusal is not None:
        run_staging_refuse(run_id=run_id, message=refusal)
        return False
    Run.objects.filter(pk=run_id).update(
        progress_at=timezone.now(), stalled_at=None, stall_reason=""
    )
    return True


# A database refusal seen once: the chunk is left for the re-send (it may have been a passing
# fault); the same refusal twice fails the run (_chunk_failure_count).
_TRY_AGAIN = "try again"


def _chunk_stage(chunk: RunChunk, *, wake_loader: bool) -> str | None:
    """Stage one locked chunk; the refusal message if its rows cannot be read or stored, or
    _TRY_AGAIN after a first database refusal."""
    run = chunk.run
    started = time.perf_counter()
    rules = mapping_rules(run.mapping_version.rules)
    writer = RecordWriter(
        run_id=run.pk, now=timezone.now(), check_suppression=run.workflow.match_on == "email"
    )
    try:
        # A savepoint: a database refusal rolls back this chunk's rows, not the count below.
        with transaction.atomic(), cyclic_gc_paused(), run.input_file.open("rb") as binary:
            fmt = _run_format(run, binary)
            columns = columns_match(fmt.headers, run.mapping_version.rules).matched
            tally = inputs_stage(
                inputs=_chunk_rows(binary, fmt, chunk),
                workflow=run.workflow,
                rules=rules,
                columns=columns,
                writer=writer,
            )
            writer.flush()
    except CsvRefused as refused:
        return refused.message
    except RowsNotStored as not_stored:
        return _chunk_failure_count(chunk, not_stored.message) or _TRY_AGAIN
    chunk.records = tally.records
    chunk.transform_ms = round(tally.transform_seconds * 1000)
    chunk.stage_ms = max(0, round((time.perf_counter() - started) * 1000) - chunk.transform_ms)
    chunk.staged_at = timezone.now()
    chunk.save(update_fields=["records", "transform_ms", "stage_ms", "staged_at"])
    _chunk_load_early(chunk, wake_loader=wake_loader)
    return None


def _chunk_load_early(chunk: RunChunk, *, wake_loader: bool) -> None:
    """The chunk's records whose key is not held go to batches in its transaction, and the
    loader is woken once it commits (docs/operations.md, "Staging and loading overlap"): as
    many load tasks as a run gets for its first batches, one more for each later chunk (in
    case the loaders ran out of work and left; a load task with nothing due ends at once)."""
    from pipelines import wakeups

    cut = chunk_batches_cut(chunk=chunk)
    if not cut:
        return
    run_id = chunk.run_id
    before = Run.objects.values_list("batches_total", flat=True).get(pk=run_id)
    Run.objects.filter(pk=run_id).update(batches_total=F("batches_total") + cut)
    Run.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=Coalesce("started_at", Now())
    )
    if not wake_loader:  # staged in the caller's process (--inline), which loads it too
        return
    for _ in range(settings.PIPELINE_LOAD_TASKS_PER_RUN if before == 0 else 1):
        transaction.on_commit(lambda: wakeups.run_load_wake(run_id=run_id))


def _chunk_failure_count(chunk: RunChunk, message: str) -> str | None:
    """Count a database refusal of this chunk. The first is left to the re-send (it may have
    been a passing fault); the same refusal twice is the data, and fails the run."""
    repeated = chunk.failures >= 1 and chunk.last_error == message
    chunk.failures += 1
    chunk.last_error = message[:300]
    chunk.save(update_fields=["failures", "last_error"])
    return (
        f"{message} It failed the same way twice; fix that row and upload again."
        if repeated
        else None
    )


def run_staging_refuse(*, run_id: int, message: str) -> None:
    """The file cannot be imported after all: the run fails with the reason, nothing more of
    it loads, and whatever was staged from it is removed, so a refused file leaves no
    records. Records its earlier chunks already sent to HubSpot (staging and loading
    overlap) stay, with those a loader is sending right now: they are the run's history."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.staged_at is not None or run.is_finished:
            return
        RunBatch.objects.filter(run=run, state=BatchState.PENDING).update(
            state=BatchState.FAILED, last_error="the file was refused"
        )
        in_flight: set[int] = set()
        for ids in RunBatch.objects.filter(run=run, state=BatchState.LEASED).values_list(
            "record_ids", flat=True
        ):
            in_flight.update(ids)
        unsent = RunRecord.objects.filter(run=run, dead_letter__isnull=True).exclude(
            state=RecordState.LOADED
        )
        unsent.exclude(pk__in=in_flight).delete()
        run.status, run.status_message, run.finished_at = (
            RunStatus.FAILURE,
            message[:300],
            timezone.now(),
        )
        run.save(update_fields=["status", "status_message", "finished_at"])


def run_chunks_dispatch(*, run_id: int) -> int:
    """Wake staging tasks for a run with unstaged chunks and no worker on it (never seen, or
    no claim within PIPELINE_WORKER_HEARTBEAT_SECONDS): at most one per free chunk, up to
    PIPELINE_STAGE_TASKS_PER_RUN. Returns how many were woken (after the transaction commits,
    when called in one)."""
    from pipelines import wakeups

    now = timezone.now()
    run = Run.objects.only("worker_seen_at").get(pk=run_id)
    heartbeat = timedelta(seconds=settings.PIPELINE_WORKER_HEARTBEAT_SECONDS)
    if run.worker_seen_at is not None and run.worker_seen_at > now - heartbeat:
        return 0  # a stager claimed a chunk moments ago: it goes on to the next
    with transaction.atomic():
        # Locked rows are chunks being staged right now: skipped, they need no task.
        free = list(
            RunChunk.objects.select_for_update(skip_locked=True)
            .filter(run_id=run_id, staged_at__isnull=True)
            .values_list("pk", flat=True)[: settings.PIPELINE_STAGE_TASKS_PER_RUN]
        )
        RunChunk.objects.filter(pk__in=free).update(dispatched_at=now)
    for _ in free:
        transaction.on_commit(lambda: wakeups.run_stage_wake(run_id=run_id))
    return len(free)


def run_chunks_staged(*, run: Run) -> tuple[bool, dict[str, int], int]:
    """(all staged?, summed timings, records staged) for a planned run."""
    totals = {"stage": 0, "transform": 0}
    records, pending = 0, 0
    for staged_at, stage_ms, transform_ms, count in run.chunks.values_list(
        "staged_at", "stage_ms", "transform_ms", "records"
    ):
        pending += staged_at is None
        totals["stage"] += stage_ms
        totals["transform"] += transform_ms
        records += count
    return pending == 0, totals, records


def csv_suppressed_rows_blank(*, run: Run) -> int:
    """Suppressed people found in the file: blank their rows in the file kept with the run
    (the records already say only "suppressed"). Runs once all chunks are staged: blanking
    rewrites the file, which would move the slices of chunks still being read."""
    from pipelines.privacy import emails_suppressed
    from pipelines.privacy_stores import import_file_rows_blank

    if not RunRecord.objects.filter(
        run=run, state=RecordState.SKIPPED, skip_reason=SkipReason.SUPPRESSED
    ).exists():
        return 0
    candidates: set[str] = set()
    with run.input_file.open("rb") as binary:
        fmt = _run_format(run, binary)
        text = io.TextIOWrapper(binary, encoding=fmt.encoding, newline="")
        for cells in csv.reader(text, delimiter=fmt.delimiter):
            candidates.update(cell.strip().lower() for cell in cells if "@" in cell)
        text.detach()
    listed = sorted(candidates)
    suppressed: set[str] = set()
    for start in range(0, len(listed), 1000):
        suppressed |= emails_suppressed(listed[start : start + 1000])
    return import_file_rows_blank(run=run, emails=suppressed)
