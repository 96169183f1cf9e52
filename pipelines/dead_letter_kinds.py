"""Dead letters that are not pipeline records: how the queue shows, edits and redelivers them.

The dead-letter queue is one queue. A pipeline letter belongs to a run's record and is
reprocessed in a new run; another app's letter (an event-hub delivery, stage ``deliver``)
has no run, record or workflow, and that app registers here, in its ``ready()``, how the
queue treats its letters: where they come from, the words for their categories, how an edit
is applied and how they are sent again. pipelines imports nothing of those apps
(docs/architecture.md, "Apps and arrows").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LetterOrigin:
    """Where a letter comes from, as the queue prints it ("event hub · invoice", a link)."""

    where: str
    where_url: str = ""
    source: str = ""
    source_url: str = ""


@dataclass(frozen=True)
class LetterKind:
    stage: str
    noun: str  # "event delivery": the queue's buttons and messages say it
    # letters → {letter id: origin}; one call per page of the queue
    origins: Callable[[list[Any]], dict[int, LetterOrigin]]
    # (dead_letter_id, payload of dotted name → text, actor) → applied to the letter
    edit: Callable[..., Any]
    # (dead_letter_ids, actor) → how many were sent again
    redeliver: Callable[..., int]
    # the letter's payload as dotted name → value, for the editor's boxes
    fields: Callable[[Any], dict[str, Any]]
    categories: dict[str, str] = field(default_factory=dict)  # category → label
    fixes: dict[str, str] = field(default_factory=dict)  # category → how to fix


LETTER_KINDS: dict[str, LetterKind] = {}


def letter_kind_register(kind: LetterKind) -> None:
    LETTER_KINDS[kind.stage] = kind


def letter_kind(stage: str) -> LetterKind | None:
    return LETTER_KINDS.get(stage)


def letter_kind_stages() -> list[str]:
    return sorted(LETTER_KINDS)


def letters_by_kind(letters: Iterable[Any]) -> tuple[list[Any], dict[str, list[Any]]]:
    """(pipeline letters, {stage: letters of a registered kind})."""
    records: list[Any] = []
    others: dict[str, list[Any]] = {}
    for letter in letters:
        if letter.stage in LETTER_KINDS:
            others.setdefault(letter.stage, []).append(letter)
        else:
            records.append(letter)
    return records, others
