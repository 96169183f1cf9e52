"""Cutting a CSV run's records into batches while the rest of its file is still staging.

Loading starts as soon as the first chunk is staged, not after the whole file: a 100,000-row
file takes seconds to stage, during which a portal's budget would otherwise go unused
(docs/operations.md, "Staging and loading overlap").

What makes that safe is dedupe. Records sharing a match key are merged after the whole file
is staged (runs.run_dedupe: the latest record survives, the latest non-empty values win), so
no record whose key appears twice in the file may load early. The plan pass, which reads the
whole file once anyway, computes every row's match key with the same function staging uses
(``chunk_duplicate_keys``) and keeps on each chunk the keys of its rows that occur more than
once in the file. A staged chunk's other records are cut into batches at once, in the chunk's
transaction; the held ones are merged and cut when the last chunk is staged
(``run_batches_cut_rest``, which cuts every loadable record not yet in a batch, so a key the
plan got wrong would cost an early load, never a lost record).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from django.db.models import Max

from pipelines.mapping import record_transform
from pipelines.models import RecordState, Run, RunBatch, RunChunk, RunRecord
from quality.validation import CONTEXT_COLUMNS, CompiledMapping, MappingRule

# HubSpot batch endpoints take at most 100 inputs (docs/reference/hubspot.md#batch-endpoints)
BATCH_SIZE = 100
# A chunk's batches are numbered chunk.sequence x SEQUENCE_STRIDE + 1, 2, ..., so the loader
# (which claims in sequence order) goes through the file in order whichever chunk staged
# first. A chunk has at most CHUNK_ROWS = 10,000 rows: 100 batches.
SEQUENCE_STRIDE = 1000


class MatchKeys:
    """The match key of a raw CSV row, as staging will compute it: the mapping rules that
    feed the match property (with their transforms) and the same normalization."""

    def __init__(
        self, rules: Sequence[MappingRule], columns: dict[str, str], *, match_on: str
    ) -> None:
        key_rules = [rule for rule in rules if rule.target == match_on]
        self.match_on = match_on
        self._mapping = CompiledMapping(key_rules, columns)
        # Only the columns that feed the key (and the country, which every rule may read as
        # context): the other columns of a row would become the mapping's "extras", a dict
        # built per row for nothing (a third of the plan's time).
        feeding = {columns.get(r.source, r.source) for r in key_rules} | set(CONTEXT_COLUMNS)
        self._columns = tuple(feeding)

    def of(self, row: dict[str, str]) -> str:
        feeding = {column: row[column] for column in self._columns if column in row}
        return record_transform(feeding, self._mapping, match_on=self.match_on).match_key


def chunk_duplicate_keys(keys_by_chunk: Iterable[tuple[int, str]]) -> dict[int, list[str]]:
    """(chunk index, match key) for every row → for each chunk, the keys of its rows that
    occur more than once in the whole file (an empty key, an invalid row, holds nothing)."""
    first_chunk: dict[str, int] = {}
    duplicated: dict[str, set[int]] = {}
    for index, key in keys_by_chunk:
        if not key:
            continue
        if key in first_chunk:
            duplicated.setdefault(key, {first_chunk[key]}).add(index)
        else:
            first_chunk[key] = index
    held: dict[int, list[str]] = defaultdict(list)
    for key, indexes in duplicated.items():
        for index in indexes:
            held[index].append(key)
    return {index: sorted(keys) for index, keys in held.items()}


def chunk_batches_cut(*, chunk: RunChunk) -> int:
    """Cut the staged chunk's loadable records whose key is not held into batches; call in
    the chunk's staging transaction. Returns how many batches were written."""
    low = chunk.first_row_number - 1  # a record's position is its row number less one
    records = RunRecord.objects.filter(
        run_id=chunk.run_id,
        state=RecordState.TRANSFORMED,
        position__gte=low,
        position__lt=low + chunk.rows,
    )
    held = set(chunk.duplicate_keys)
    ids = (
        pk
        for pk, key in records.order_by("position").values_list("pk", "match_key")
        if key not in held
    )
    return _batches_write(
        run_id=chunk.run_id, record_ids=ids, first=chunk.sequence * SEQUENCE_STRIDE + 1
    )


def run_batches_cut_rest(*, run: Run) -> int:
    """After dedupe: cut every loadable record of the run that no batch holds yet (the
    survivors of duplicate keys), numbered after the chunks' batches. Returns how many."""
    batched: set[int] = set()
    for record_ids in RunBatch.objects.filter(run=run).values_list("record_ids", flat=True):
        batched.update(record_ids)
    rest = (
        pk
        for pk in RunRecord.objects.filter(run=run, state=RecordState.TRANSFORMED)
        .order_by("position")
        .values_list("pk", flat=True)
        .iterator(chunk_size=10_000)
        if pk not in batched
    )
    last = RunChunk.objects.filter(run=run).aggregate(last=Max("sequence"))["last"] or 0
    return _batches_write(run_id=run.pk, record_ids=rest, first=(last + 1) * SEQUENCE_STRIDE + 1)


def _batches_write(*, run_id: int, record_ids: Iterator[int], first: int) -> int:
    batches = [
        RunBatch(run_id=run_id, sequence=first + n, record_ids=ids)
        for n, ids in enumerate(_groups(record_ids, BATCH_SIZE))
    ]
    RunBatch.objects.bulk_create(batches, batch_size=500)
    return len(batches)


def _groups(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    group: list[int] = []
    for pk in ids:
        group.append(pk)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group
