"""The Kafka side of the consumer runtime: one consumer per subscription, batches per
partition, offsets committed after the work.

Each subscription is one aiokafka consumer in its own group (``<service>.<consumer>``),
with auto-commit off. A fetch returns records for several partitions; each partition's
records go to :meth:`MessageProcessor.process_batch` (in order: one worker per partition,
so each key's events keep their order) and the partitions of one fetch are worked on
concurrently. A partition's offset is committed once its batch is done: every message
handled, skipped or safely dead-lettered. Should the processor still raise, the consumer
seeks back to the batch's first message and reads it again after a pause.

After a rebalance the new owner of a partition starts at its last committed offset, so a
batch may be delivered twice; the inbox makes the second delivery a duplicate.

The consumer is aiokafka's, the client FastStream is built on, used directly: the runtime
needs a partition's fetch as one unit, its own offset commits, and headers read before
any decoding (FastStream's per-message subscribers decoded and committed per message;
see bench/ for what that cost).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from oms_platform import deadletters
from oms_platform.consumer import Delivery, MessageProcessor, Outcome, Subscription, producer_sink
from oms_platform.eventstore.postgres import PostgresEventStore
from oms_platform.health import Health, keep_running
from oms_platform.kafka_client import KafkaConnection
from oms_platform.logging import get_logger
from oms_platform.metrics import ServiceMetrics
from oms_platform.notify import Wakeup, wait_or_sleep
from oms_platform.relay import create_producer
from oms_platform.settings import RetrySettings

log = get_logger(__name__)

DLQ_VALUE_LIMIT = 512 * 1024
"""The largest value copied whole to a dead-letter topic (the broker takes about 1 MiB)."""


IDLE_FETCH_WAIT_MS = 2000
"""How long a fetch waits on the broker for a first record (then it is asked again)."""


class ConsumerRuntime:
    """The subscriptions of one service, each consumed by :meth:`consume` until stopped."""

    def __init__(
        self,
        *,
        service: str,
        kafka: KafkaConnection,
        store: PostgresEventStore,
        retry: RetrySettings | None = None,
        health: Health | None = None,
        batch_size: int = 200,
        wakeup: Wakeup | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.service = service
        self.wakeup = wakeup
        self.kafka = kafka
        self.store = store
        self.batch_size = batch_size
        # aiokafka clients need a running event loop: the producer is made in start().
        self._dlq_producer: Any = None
        self.health = health or Health()
        self.metrics = metrics or ServiceMetrics()
        self.processor = MessageProcessor(
            store, self._dead_letter, retry=retry, health=self.health, metrics=self.metrics
        )
        self.subscriptions: list[Subscription] = []
        self._consumers: dict[str, AIOKafkaConsumer] = {}
        # The next offset to handle, per consumer and partition (two consumers may read one).
        self._done: dict[tuple[str, str, int], int] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._exclusive = asyncio.Lock()  # one batch at a time of exclusive subscriptions
        self.handled: dict[str, int] = {}
        """Messages handled (not skipped, not duplicates) per subscription: the work split."""

    def subscribe(self, sub: Subscription) -> None:
        self.subscriptions.append(sub)
        self.handled[sub.consumer] = 0

    def group(self, sub: Subscription) -> str:
        return f"{self.service}.{sub.consumer}"

    async def consume(self, sub: Subscription, stop: asyncio.Event) -> None:
        """Consume ``sub``'s topics until ``stop`` (the service host restarts it on error)."""
        consumer = AIOKafkaConsumer(
            *sub.topics,
            **self.kafka.options(),
            group_id=self.group(sub),
            client_id=f"oms-{self.group(sub)}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            # The broker answers a fetch as soon as a record arrives; this only sets how
            # often an idle consumer asks again (the idle CPU).
            fetch_max_wait_ms=IDLE_FETCH_WAIT_MS,
            # The fetcher's background loop wakes this often with nothing to do (aiokafka's
            # default is five times a second); it reacts to new data, consumption and a
            # rebalance through futures, not through this timeout.
            consumer_timeout_ms=IDLE_FETCH_WAIT_MS,
        )
        await consumer.start()
        self._consumers[sub.consumer] = consumer
        status = self.health.loop(f"kafka:{sub.consumer}")
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=IDLE_FETCH_WAIT_MS, max_records=self.batch_size
                )
                status.ok()
                if fetched:
                    await asyncio.gather(
                        *(
                            self._partition(consumer, sub, tp, records)
                            for tp, records in fetched.items()
                        )
                    )
        finally:
            self._consumers.pop(sub.consumer, None)
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _partition(
        self, consumer: AIOKafkaConsumer, sub: Subscription, tp: TopicPartition, records: list[Any]
    ) -> None:
        deliveries = [
            Delivery(r.topic, r.partition, r.offset, r.key, r.value or b"", list(r.headers or ()))
            for r in records
        ]
        # The next offset to handle is this batch's first until the batch is done (the
        # lag then counts the batch as waiting, not as handled once it is fetched).
        self._done[(sub.consumer, tp.topic, tp.partition)] = records[0].offset
        try:
            if sub.exclusive:
                async with self._exclusive:
                    outcomes = await self.processor.process_batch(sub, deliveries)
            else:
                outcomes = await self.processor.process_batch(sub, deliveries)
        except Exception:
            # The processor handles every failure itself; should something still get here,
            # leave the offset alone and read the batch again after a pause.
            log.exception(
                "consumer.batch_failed",
                consumer=sub.consumer,
                topic=tp.topic,
                offset=records[0].offset,
            )
            await asyncio.sleep(1.0)
            consumer.seek(tp, records[0].offset)
            return
        self.handled[sub.consumer] += sum(o is Outcome.HANDLED for o in outcomes)
        next_offset = records[-1].offset + 1
        try:
            await consumer.commit({tp: next_offset})
        except (CommitFailedError, KafkaError) as err:
            # The partition went to another member (or the coordinator moved): the work is
            # committed in the database, so the new owner finds it in the inbox.
            log.warning(
                "consumer.commit_failed", consumer=sub.consumer, topic=tp.topic, error=str(err)
            )
        self._done[(sub.consumer, tp.topic, tp.partition)] = next_offset

    def assignments(self) -> dict[str, list[str]]:
        """The partitions each subscription holds now, as ``topic:partition``."""
        return {
            name: sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
            for name, consumer in self._consumers.items()
        }

    async def lag(self) -> dict[str, int | None]:
        """Messages behind the newest known offset, per subscription (None: not running).

        The sum of :meth:`partition_lag` over the subscription's partitions.
        """
        per_partition = await self.partition_lag()
        lags: dict[str, int | None] = {}
        for sub in self.subscriptions:
            if sub.consumer not in self._consumers:
                lags[sub.consumer] = None
                continue
            lags[sub.consumer] = sum(
                lag for (consumer, _, _), lag in per_partition.items() if consumer == sub.consumer
            )
        return lags

    async def partition_lag(self, *, ask_broker: bool = False) -> dict[tuple[str, str, int], int]:
        """``(consumer, topic, partition) -> messages behind`` for each partition held now.

        The high watermark minus the next offset this runtime has to handle. By default
        the high watermark is the last fetch's (no request to the broker, so a health
        check never waits on it); it stands still while a batch is stuck, so
        ``ask_broker`` (the metrics scrape) asks the broker for the partitions' end
        offsets, falling back on the last fetch's if the broker does not answer at once.
        A partition never fetched and not answered for is left out.
        """
        consumers = list(self._consumers.items())
        ends: dict[Any, int] = {}
        if ask_broker and consumers:
            # One request for every partition held (any consumer may ask for any).
            held = sorted({tp for _, c in consumers for tp in c.assignment()})
            if held:
                with contextlib.suppress(Exception):
                    ends = await asyncio.wait_for(consumers[0][1].end_offsets(held), 3.0)
        lags: dict[tuple[str, str, int], int] = {}
        for name, consumer in consumers:
            for tp in consumer.assignment():
                high = ends.get(tp, consumer.highwater(tp))
                # What was handled, not what was fetched: a consumer stuck on a batch has
                # fetched the messages behind it too.
                position = self._done.get((name, tp.topic, tp.partition))
                if position is None:
                    try:
                        position = await asyncio.wait_for(consumer.position(tp), 0.2)
                    except Exception:
                        position = None
                if high is not None and position is not None:
                    lags[(name, tp.topic, tp.partition)] = max(0, high - position)
        return lags

    async def _dead_letter(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Publish to the dead-letter topic, then record it for ``oms dlq`` (both or retry)."""
        if self._dlq_producer is None:
            raise RuntimeError("ConsumerRuntime.start() was not called")
        copy, copy_headers = value, headers
        if len(value) > DLQ_VALUE_LIMIT:
            # A message too large for the broker (it came in compressed) cannot be copied
            # whole: the topic gets its head and the reason, the table keeps all of it.
            copy = value[:DLQ_VALUE_LIMIT]
            copy_headers = [*headers, ("dlq.truncated_from", str(len(value)).encode())]
        await producer_sink(self._dlq_producer)(topic, key, copy, copy_headers)
        original = dict((k, v.decode(errors="replace")) for k, v in headers)
        async with self.store.connection() as conn:
            await deadletters.record_dead_letter(
                conn,
                consumer=original.get("dlq.consumer", "?"),
                topic=original.get("dlq.original_topic", topic),
                partition=int(original.get("dlq.original_partition", -1)),
                offset=int(original.get("dlq.original_offset", -1)),
                key=key,
                value=value,
                headers=headers,
            )

    async def replay_requested(self) -> int:
        """Run the dead letters ``oms dlq replay`` asked for through their consumer again.

        The inbox makes this idempotent: a message whose effects already happened (or
        that is replayed twice) is a duplicate, not a second effect.
        """
        subs = {s.consumer: s for s in self.subscriptions}
        if not subs:
            return 0
        async with self.store.connection() as conn:
            rows = await deadletters.requested_replays(conn, list(subs))
        for row in rows:
            delivery = Delivery(
                row.topic, row.partition, row.offset, row.key, row.value, row.headers
            )
            outcome = await self.processor.process(subs[row.consumer], delivery)
            log.info("dlq.replayed", consumer=row.consumer, id=row.id, outcome=outcome.value)
            if outcome is not Outcome.DEAD_LETTERED:
                async with self.store.connection() as conn:
                    await deadletters.mark_replayed(conn, row.id, outcome.value)
        return len(rows)

    async def run_replays(self, stop: asyncio.Event, idle_s: float | None = None) -> None:
        """Pick up replay requests until ``stop``: at once when ``oms dlq replay`` notifies
        (``deadletters.REPLAY_CHANNEL``), else by a cheap query every ``idle_s`` (30 s with
        a wakeup, 1 s without)."""
        status = self.health.loop("dlq-replay")
        waiter = self.wakeup.waiter(deadletters.REPLAY_CHANNEL) if self.wakeup else None
        poll_s = idle_s if idle_s is not None else (30.0 if waiter else 1.0)
        while not stop.is_set():
            await self.replay_requested()
            status.ok()
            await wait_or_sleep(waiter, poll_s, stop)

    async def start(self) -> None:
        """Start the dead-letter producer, then one :meth:`consume` loop per subscription
        (restarted after a failure, reported in readiness as ``kafka:<consumer>``)."""
        self._stop = asyncio.Event()
        self._dlq_producer = create_producer(self.kafka)
        await self._dlq_producer.start()
        for sub in self.subscriptions:
            status = self.health.loop(f"kafka:{sub.consumer}")
            loop = functools.partial(self.consume, sub)
            self._tasks.append(
                asyncio.create_task(keep_running(loop, self._stop, status), name=status.name)
            )

    async def stop(self) -> None:
        """Stop consuming (each loop ends after its current batch), then the producer."""
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=15)
            for task in pending:  # a batch waiting out a dead database
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks = []
        if self._dlq_producer is not None:
            await self._dlq_producer.stop()
            self._dlq_producer = None
