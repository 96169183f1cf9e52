"""Many portals at once. Spec: a load task's threads serve every run with due batches in
turn, so one task loads several portals' runs together; a run whose portal has no free slot
is passed over for one whose portal has; when every portal is full the thread waits for the
first slot instead of spinning, and never takes a slot it cannot use."""

from __future__ import annotations

from pipelines.services import load_rotation
from pipelines.services.load_outcomes import BatchOutcome
from pipelines.services.load_rotation import WAITED, LoadRotation
from pipelines.services.loader import run_load
from tests.pipelines.conftest import assert_invariant, sandbox_emails, staged_run
from tests.pipelines.factories import WorkflowFactory


class Budget:
    def __init__(self, wait: float) -> None:
        self.wait = wait

    def wait_time(self) -> float:
        return self.wait


def test_one_load_task_loads_the_runs_of_two_portals_together(db, sandbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    first, second = WorkflowFactory(), WorkflowFactory()  # a HubSpot connection each
    run_a = staged_run(first, 250)
    run_b = staged_run(second, 150, start=1000)

    loaded = run_load(run_id=run_a.pk)  # woken for the first portal's run only

    assert loaded.batches == 3 + 2
    assert_invariant(run_a)
    assert_invariant(run_b)
    assert len(sandbox_emails(sandbox)) == 400


def test_a_run_whose_portal_is_full_is_passed_over_for_one_whose_portal_has_room(monkeypatch):
    served: list[int] = []
    monkeypatch.setattr(load_rotation, "runs_with_due_batches", lambda: [1, 2])
    rotation = LoadRotation(run_id=1)
    rotation._budgets = {1: Budget(3.0), 2: Budget(0.0)}  # portal of run 1 at its limit
    monkeypatch.setattr(
        load_rotation,
        "batch_load_next",
        lambda *, run_id, transport: served.append(run_id) or BatchOutcome(batch_id=run_id),
    )

    for _ in range(4):
        rotation.load_next()

    assert served == [2, 2, 2, 2]


def test_when_every_portal_is_full_the_thread_waits_for_the_first_slot(monkeypatch):
    naps: list[float] = []
    monkeypatch.setattr(load_rotation, "runs_with_due_batches", lambda: [1, 2])
    monkeypatch.setattr(
        load_rotation, "batch_load_next", lambda **_: (_ for _ in ()).throw(AssertionError)
    )
    rotation = LoadRotation(run_id=1, sleep=naps.append)
    rotation._budgets = {1: Budget(3.0), 2: Budget(0.1)}

    outcome = rotation.load_next()

    assert outcome.state == WAITED
    assert naps == [0.1]  # until run 2's portal has a slot; never longer than a short nap


def test_runs_take_turns_and_a_run_with_nothing_due_is_left_out(monkeypatch):
    served: list[int] = []
    monkeypatch.setattr(load_rotation, "runs_with_due_batches", lambda: [1, 2, 3])

    def load(*, run_id, transport):
        served.append(run_id)
        return None if run_id == 3 else BatchOutcome(batch_id=run_id)

    monkeypatch.setattr(load_rotation, "batch_load_next", load)
    rotation = LoadRotation(run_id=1)
    rotation._budgets = {1: Budget(0.0), 2: Budget(0.0), 3: Budget(0.0)}

    for _ in range(5):
        rotation.load_next()

    # Run 3 had nothing: asked once (its turn went on to run 1), then left out.
    assert served == [1, 2, 3, 1, 2, 1]
