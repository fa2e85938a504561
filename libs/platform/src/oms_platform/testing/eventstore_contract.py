"""The behaviour every event store must show, run against the fake and PostgreSQL alike.

Subclass ``EventStoreContract`` and provide two fixtures: ``store`` (an empty store keyed
with ``TEST_CHAIN_KEY``) and ``tamper`` (an object with ``payload(store, stream_id,
version, payload)``, ``delete(store, stream_id, version)``, ``rewrite(store, stream_id,
version, payload, key)`` and ``drop(store, stream_id)`` that change stored rows behind the
store's back, as a database writer could: ``rewrite`` changes one payload and rechains
that event, every later one and the head with ``key``; ``drop`` deletes a stream and its
head).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from oms_platform.eventstore import (
    START,
    ConcurrencyConflict,
    DuplicateDelivery,
    InvalidAppend,
    Position,
)
from oms_platform.testing.builders import envelope, stream_events

WRONG_KEY = b"not the chain key, but a writer's guess"


class EventStoreContract:
    async def test_append_then_read_stream_in_version_order(self, store: Any) -> None:
        await store.append(stream_events("order-1", 1, 3))
        await store.append(stream_events("order-1", 4, 2))
        got = await store.read_stream("order-1")
        assert [r.envelope.stream_version for r in got] == [1, 2, 3, 4, 5]
        assert [r.envelope.payload for r in got] == [{"n": v} for v in range(1, 6)]
        assert [r.envelope.stream_version for r in await store.read_stream("order-1", 4)] == [4, 5]

    async def test_read_back_keeps_every_envelope_field(self, store: Any) -> None:
        env = envelope(
            "order-9",
            1,
            type="OrderPlaced",
            payload={
                "total": {"amount": "10.50", "c": "EUR"},
                "lines": [{"sku": "A-1", "qty": 2}],
                "note": "zoë ✓",
            },
            correlation_id="corr-9",
            causation_id="cause-1",
        )
        await store.append([env])
        [rec] = await store.read_stream("order-9")
        assert rec.envelope == env
        assert rec.position > 0

    async def test_unknown_stream_reads_empty(self, store: Any) -> None:
        assert await store.read_stream("nope") == []

    async def test_stale_expected_version_conflicts_and_appends_nothing(self, store: Any) -> None:
        await store.append(stream_events("s", 1, 2))
        with pytest.raises(ConcurrencyConflict):
            await store.append([envelope("s", 2), envelope("s", 3)])
        with pytest.raises(ConcurrencyConflict):
            await store.append([envelope("s", 5)])  # a gap is as wrong as a stale version
        assert [r.envelope.stream_version for r in await store.read_stream("s")] == [1, 2]

    async def test_multi_stream_append_is_atomic(self, store: Any) -> None:
        await store.append(stream_events("b", 1, 1))
        stale_b = envelope("b", 1)  # b is already at 1: this batch must fail whole
        with pytest.raises(ConcurrencyConflict):
            await store.append([envelope("a", 1), stale_b, envelope("c", 1)])
        assert await store.read_stream("a") == []
        assert await store.read_stream("c") == []
        await store.append([envelope("a", 1), envelope("b", 2), envelope("c", 1)])
        for sid, n in (("a", 1), ("b", 2), ("c", 1)):
            assert len(await store.read_stream(sid)) == n

    async def test_malformed_batches_are_refused(self, store: Any) -> None:
        with pytest.raises(InvalidAppend):
            await store.append([])
        with pytest.raises(InvalidAppend):
            await store.append([envelope("x", 1), envelope("x", 3)])
        one = envelope("y", 1)
        with pytest.raises(InvalidAppend):
            await store.append([one, one.model_copy(update={"stream_version": 2})])

    async def test_duplicate_event_id_is_refused(self, store: Any) -> None:
        first = envelope("p", 1)
        await store.append([first])
        with pytest.raises(ConcurrencyConflict):
            await store.append([first.model_copy(update={"stream_id": "q"})])
        assert await store.read_stream("q") == []

    async def test_concurrent_writers_to_one_stream_one_wins(self, store: Any) -> None:
        await store.append(stream_events("hot", 1, 1))

        async def write(tag: str) -> str:
            try:
                await store.append([envelope("hot", 2, payload={"by": tag})])
                return tag
            except ConcurrencyConflict:
                return "conflict"

        results = await asyncio.gather(*(write(f"w{i}") for i in range(5)))
        assert results.count("conflict") == 4
        [winner] = [r for r in results if r != "conflict"]
        [_, second] = await store.read_stream("hot")
        assert second.envelope.payload == {"by": winner}

    async def test_read_all_in_commit_order_from_a_checkpoint(self, store: Any) -> None:
        await store.append(stream_events("a", 1, 2))
        await store.append(stream_events("b", 1, 1))
        await store.append([envelope("a", 3), envelope("c", 1)])
        # read_all holds back what committed after any transaction still running on the
        # server (any database of it): on a busy server the last events may show late.
        everything = await store.read_all(START)
        for _ in range(100):
            if len(everything) == 5:
                break
            await asyncio.sleep(0.05)
            everything = await store.read_all(START)
        keys = [(r.envelope.stream_id, r.envelope.stream_version) for r in everything]
        assert keys == [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("c", 1)]
        positions = [r.commit_position for r in everything]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        rest = await store.read_all(everything[2].commit_position)
        assert [r.envelope.event_id for r in rest] == [r.envelope.event_id for r in everything[3:]]
        assert len(await store.read_all(START, limit=2)) == 2
        assert await store.read_all(everything[-1].commit_position) == []

    async def test_unit_of_work_commits_appends_inbox_and_checkpoint_together(
        self, store: Any
    ) -> None:
        event_id = uuid.uuid4()
        async with store.unit_of_work() as uow:
            assert not await uow.already_processed("reserve", event_id)
            await uow.append([envelope("u", 1)])
            assert [r.envelope.stream_version for r in await uow.read_stream("u")] == [1]
            await uow.mark_processed("reserve", event_id)
            await uow.save_checkpoint("proj", Position(7, 9))
        assert await store.load_checkpoint("proj") == Position(7, 9)
        async with store.unit_of_work() as uow:
            assert await uow.already_processed("reserve", event_id)
            assert not await uow.already_processed("other-consumer", event_id)
            with pytest.raises(DuplicateDelivery):
                await uow.mark_processed("reserve", event_id)

    async def test_failed_unit_of_work_leaves_nothing(self, store: Any) -> None:
        event_id = uuid.uuid4()
        with pytest.raises(RuntimeError):
            async with store.unit_of_work() as uow:
                await uow.append([envelope("v", 1)])
                await uow.mark_processed("c", event_id)
                await uow.save_checkpoint("proj", Position(1, 1))
                raise RuntimeError("handler failed")
        assert await store.read_stream("v") == []
        assert await store.read_all(START) == []
        assert await store.load_checkpoint("proj") == START
        async with store.unit_of_work() as uow:
            assert not await uow.already_processed("c", event_id)

    async def test_batch_inbox_claims_and_commit_callbacks(self, store: Any) -> None:
        first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        committed: list[str] = []
        async with store.unit_of_work() as uow:
            assert await uow.claim("batch", [first, second]) == {first, second}
            # Claimed in this unit of work already: not to be handled a second time.
            assert await uow.claim("batch", [first, second, third]) == {third}
            uow.on_commit(lambda: committed.append("done"))
            assert committed == []
        assert committed == ["done"]
        async with store.unit_of_work() as uow:
            assert await uow.claim("batch", []) == set()
            assert await uow.claim("another", [first]) == {first}
            assert await uow.already_processed("batch", third)
        fourth = uuid.uuid4()
        with pytest.raises(RuntimeError):
            async with store.unit_of_work() as uow:
                uow.on_commit(lambda: committed.append("rolled back"))
                assert await uow.claim("batch", [fourth, second]) == {fourth}
                raise RuntimeError("the handler failed")
        assert committed == ["done"]
        async with store.unit_of_work() as uow:
            # The failed unit of work left nothing: ``fourth`` was not recorded.
            assert not await uow.already_processed("batch", fourth)
            assert await uow.claim("batch", [fourth]) == {fourth}

    async def test_a_deferred_unit_of_work_reads_its_staged_events_and_conflicts_at_the_end(
        self, store: Any
    ) -> None:
        async with store.unit_of_work(deferred=True) as uow:
            await uow.append([envelope("d", 1)])
            await uow.append([envelope("e", 1), envelope("d", 2)])
            assert [r.envelope.stream_version for r in await uow.read_stream("d")] == [1, 2]
            assert [r.envelope.stream_version for r in await uow.read_stream("d", 2)] == [2]
        assert [r.envelope.stream_version for r in await store.read_stream("d")] == [1, 2]
        with pytest.raises(ConcurrencyConflict):
            async with store.unit_of_work(deferred=True) as uow:
                await uow.append([envelope("d", 3), envelope("f", 1)])
                await store.append([envelope("d", 3)])  # another writer, first
        # Nothing of the failed unit of work was stored.
        assert await store.read_stream("f") == []
        assert len(await store.read_stream("d")) == 3

    async def test_before_commit_callbacks_run_once_per_key_inside_the_transaction(
        self, store: Any
    ) -> None:
        ran: list[str] = []
        async with store.unit_of_work() as uow:

            async def hook() -> None:
                ran.append("hook")
                await uow.append([envelope("h", 1)])

            uow.before_commit("k", hook)
            uow.before_commit("k", hook)  # the same key again: still once
            uow.extras["rows"] = [1]
            assert ran == []
        assert ran == ["hook"]
        assert len(await store.read_stream("h")) == 1
        with pytest.raises(ConcurrencyConflict):
            async with store.unit_of_work() as uow:

                async def conflicting() -> None:
                    await uow.append([envelope("h", 1)])  # the stream is at 1 already

                uow.before_commit("k", conflicting)
        assert len(await store.read_stream("h")) == 1

    async def test_verify_passes_untouched_streams(self, store: Any) -> None:
        await store.append(stream_events("clean", 1, 3))
        await store.append([envelope("clean", 4), envelope("other", 1)])
        assert await store.verify() == []

    async def test_verify_reports_an_altered_payload(self, store: Any, tamper: Any) -> None:
        await store.append(stream_events("t", 1, 4))
        await tamper.payload(store, "t", 2, {"n": 999})
        findings = await store.verify()
        assert [(f.stream_id, f.stream_version, f.kind) for f in findings] == [("t", 2, "altered")]

    async def test_verify_reports_a_deleted_event(self, store: Any, tamper: Any) -> None:
        await store.append(stream_events("d", 1, 4))
        await store.append(stream_events("e", 1, 2))
        await tamper.delete(store, "d", 2)
        await tamper.delete(store, "e", 2)  # the last one: only the head shows it
        kinds = {(f.stream_id, f.stream_version, f.kind) for f in await store.verify()}
        assert kinds == {("d", 2, "missing"), ("e", 2, "head_mismatch")}

    async def test_a_consistent_rewrite_without_the_key_is_altered(
        self, store: Any, tamper: Any
    ) -> None:
        await store.append(stream_events("r", 1, 3))
        await tamper.rewrite(store, "r", 2, {"n": 999}, WRONG_KEY)
        findings = [(f.stream_id, f.stream_version, f.kind) for f in await store.verify()]
        # The head agrees with the rewritten events: only the key shows the rewrite, in
        # every event rechained without it.
        assert findings == [("r", 2, "altered"), ("r", 3, "altered")]

    async def test_verify_against_anchors(self, store: Any, tamper: Any) -> None:
        for sid in ("kept", "grown", "rewritten", "cut", "dropped"):
            await store.append(stream_events(sid, 1, 3))
        anchored = {
            sid: (rec.envelope.stream_version, rec.hash)
            for sid in ("kept", "grown", "rewritten", "cut", "dropped")
            for rec in (await store.read_stream(sid))[1:2]  # anchored at version 2
        }
        await store.append(stream_events("grown", 4, 2))
        await tamper.rewrite(store, "rewritten", 1, {"n": -1}, WRONG_KEY)
        await tamper.delete(store, "cut", 3)
        await tamper.delete(store, "cut", 2)
        await tamper.drop(store, "dropped")
        found = {
            (f.stream_id, f.stream_version, f.kind) for f in await store.verify(None, anchored)
        }
        assert found == {
            *(("rewritten", v, "altered") for v in (1, 2, 3)),
            ("rewritten", 2, "rewritten"),
            ("cut", 2, "truncated"),
            ("cut", 3, "head_mismatch"),
            ("dropped", 2, "deleted"),
        }
