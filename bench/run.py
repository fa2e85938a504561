"""OMS benchmark: event store append and read-all, outbox relay, against their ceilings;
then orders end to end through the services at rising rates (--e2e, on by default).

    uv run python bench/run.py            # full run (store ~3-5 minutes, e2e ~10 minutes)
    uv run python bench/run.py --quick    # smoke run (~4 minutes)
    uv run python bench/run.py --no-e2e --events 50000 --profile
    uv run python bench/run.py --e2e-only --quick

Needs the local stack (`uv run oms up`). Creates scratch databases and topics, drops them
at the end (also on failure), prints the results and writes bench/results/latest.{json,md}
plus a timestamped JSON copy. It is a report: it exits 0 whatever the figures are, and
non-zero only when something crashed. See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import signal
import statistics
import sys
import sysconfig
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from omsbench import common, ladder
from omsbench.append import es_append, oms_append, open_store, raw_append
from omsbench.common import (
    STREAMS_PER_WRITER,
    Append,
    LoadWatch,
    Result,
    ScratchDatabases,
    plan,
    planned_events,
    rounds,
)
from omsbench.e2e import Plan, run_e2e
from omsbench.e2e_report import markdown as e2e_markdown
from omsbench.e2e_report import plot as e2e_plot
from omsbench.e2e_report import summary_table as e2e_summary
from omsbench.kafka import (
    create_topics,
    delete_topics,
    message_size,
    producer_performance,
    relay_rate,
)
from omsbench.read import STORE_PAGE, oms_read_all, raw_read_all
from omsbench.replay import SERVICES as REPLAY_SOURCES
from omsbench.replay import fill as fill_replay_sources
from omsbench.replay import raw_read_rate, replay_rate
from omsbench.report import (
    APPEND_VS_ES,
    APPEND_VS_RAW,
    READ_ALL_MIN,
    Row,
    details_table,
    ladder_table,
    machine_info,
    machine_lines,
    markdown_table,
)

from oms_cli.config import StackConfig

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_EVENTS = 30_000
QUICK_EVENTS = 4_000
DEFAULT_REPLAY_EVENTS = 30_000
QUICK_REPLAY_EVENTS = 4_000
READ_PASSES = 5
REPLAY_ROUNDS = 3
KAFKA_ROUNDS = 3
# (label, writers, events per transaction)
SCENARIOS = [("1w x 1ev", 1, 1), ("8w x 1ev", 8, 1), ("8w x 10ev", 8, 10)]
DATASET = "8w x 1ev"  # the OMS database kept for the read-all and relay measurements

ROUNDS = 5

AsyncRunner = Callable[[str, list[list[Append]], str], Awaitable[Result]]


async def _es(dsn: str, work: list[list[Append]], key: str) -> Result:
    return await asyncio.to_thread(es_append, dsn, work, key)


# (result key, database label, runner); a run's key is "<result key> <scenario>".
APPEND_SYSTEMS: list[tuple[str, str, AsyncRunner]] = [
    ("oms append", "oms", oms_append),
    ("raw psycopg append", "raw", raw_append),
    ("eventsourcing append", "es", _es),
]
LADDER_RUNGS: list[tuple[str, str, AsyncRunner]] = [
    ("ladder function", "lad_fn", ladder.function_only),
    ("ladder params", "lad_params", ladder.unit_of_work_autocommit),
    ("ladder transaction", "lad_tx", ladder.unit_of_work_transaction),
]
LADDER_NAMES = {
    "ladder function": "oms_append() SQL, params precomputed, autocommit",
    "ladder params": "+ store's Python params (UnitOfWork, autocommit)",
    "ladder transaction": "+ BEGIN/COMMIT (UnitOfWork in a transaction)",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def slug(label: str) -> str:
    return label.replace(" ", "").replace("x", "_")


class Bench:
    def __init__(self, config: StackConfig, dbs: ScratchDatabases, events: int) -> None:
        self.config = config
        self.dbs = dbs
        self.events = events
        self.topics: list[str] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.results: dict[str, Result] = {}
        self.ladder: dict[str, dict[str, dict[str, Any]]] = {}
        self.dataset_dsn: str | None = None
        self.dataset_events = 0

    def checkpoint(self) -> None:
        """Start every measurement right after a checkpoint: no full-page writes of a
        checkpoint that another run started, no checkpoint in the middle of a short run."""
        with psycopg.connect(self.config.admin_dsn, autocommit=True) as admin:
            admin.execute("CHECKPOINT")

    def record(self, key: str, result: Result) -> Result:
        self.results[key] = result
        self.runs[key] = result.as_dict()
        doc = self.runs[key]
        lat = doc.get("append_latency_ms", {})
        log(
            f"  {key:<42} {result.rate:>10,.0f} events/s  ({result.events:,} in "
            f"{result.seconds:.2f}s; p50 {lat.get('p50', '-')} ms; client CPU "
            f"{doc.get('client_cpu_us_per_event', '-')} µs/ev; server CPU "
            f"{doc.get('server_cpu_us_per_event', '-')} µs/ev)"
        )
        return result

    async def appends(self, with_ladder: bool) -> None:
        """Each scenario: every system on its own fresh database, in ROUNDS rounds whose
        order rotates, so that a burst of load from elsewhere on the machine falls on all
        of them rather than on one. A system's figure is the median of its rounds."""
        for label, writers, batch in SCENARIOS:
            log(
                f"append, {label} per transaction ({writers} writers, batch {batch}), "
                f"{ROUNDS} interleaved rounds"
            )
            systems = list(APPEND_SYSTEMS)
            if with_ladder:
                systems += LADDER_RUNGS
            work = plan(self.events, writers, batch)
            dsns = {key: self.dbs.create(f"{db}_{slug(label)}") for key, db, _ in systems}
            parts: dict[str, list[Result]] = {key: [] for key, _, _ in systems}
            try:
                for r, chunk in enumerate(rounds(work, ROUNDS)):
                    shift = r % len(systems)
                    for key, _, runner in systems[shift:] + systems[:shift]:
                        self.checkpoint()
                        parts[key].append(await runner(dsns[key], chunk, key))
            finally:
                for key, dsn in dsns.items():
                    if key == "oms append" and label == DATASET and len(parts[key]) == ROUNDS:
                        self.dataset_dsn, self.dataset_events = dsn, planned_events(work)
                    else:
                        # On failure, drop_all() retries what is left at the end.
                        with contextlib.suppress(psycopg.Error):
                            self.dbs.drop(dsn)
            for key, _, _ in systems:
                self.record(f"{key} {label}", Result.merge(f"{key} {label}", parts[key]))
            if with_ladder:
                self.ladder_for(label, work)

    def ladder_for(self, label: str, work: list[list[Append]]) -> None:
        steps = {
            rung: dict(self.runs[f"{key} {label}"])
            for key, rung in (
                ("raw psycopg append", "raw INSERT (ceiling)"),
                *((key, LADDER_NAMES[key]) for key, _, _ in LADDER_RUNGS),
                ("oms append", "store.append (its pool of autocommit connections)"),
            )
        }
        params_us = ladder.params_cpu_us_per_event(work)
        steps[LADDER_NAMES["ladder params"]]["params_cpu_us_per_event_alone"] = round(params_us, 1)
        log(f"  store's parameter building alone: {params_us:.1f} µs CPU per event")
        self.ladder[label] = steps

    async def reads(self) -> None:
        assert self.dataset_dsn is not None
        log(f"read-all of {self.dataset_events:,} events, pages of 1,000, {READ_PASSES} passes")
        engine, store = await open_store(self.dataset_dsn, 2)
        n, dsn = self.dataset_events, self.dataset_dsn
        readers: list[tuple[str, Callable[[], Awaitable[Result]]]] = [
            ("oms read_all", lambda: oms_read_all(store, n, "oms read_all")),
            ("raw psycopg keyset read", lambda: raw_read_all(dsn, n, "raw")),
            (
                "raw psycopg, the store's read_all SQL",
                lambda: raw_read_all(dsn, n, "raw", STORE_PAGE),
            ),
        ]
        passes: dict[str, list[Result]] = {key: [] for key, _ in readers}
        try:
            for i in range(READ_PASSES):
                shift = i % len(readers)
                for key, read in readers[shift:] + readers[:shift]:
                    passes[key].append(await read())
        finally:
            await store.close()
            await engine.dispose()
        for key, _ in readers:
            self.record(key, Result.merge(key, passes[key]))

    async def relay(self) -> None:
        """The relay and ProducerPerformance, alternating, KAFKA_ROUNDS times each, every
        time the whole dataset to a fresh topic (a relay of a new name starts at START)."""
        assert self.dataset_dsn is not None
        engine, store = await open_store(self.dataset_dsn, 2)
        relays: list[Result] = []
        perfs: list[Result] = []
        n = self.dataset_events
        try:
            sample = [r.envelope for r in await store.read_all(limit=1000)]
            size = message_size(sample)
            log(
                f"outbox relay of {n:,} events to Kafka ({size} B/message) and Kafka's "
                f"ProducerPerformance (same count and size, acks=all, idempotent), "
                f"{KAFKA_ROUNDS} rounds"
            )
            for _ in range(KAFKA_ROUNDS):
                run = uuid.uuid4().hex[:8]
                relay_topic, perf_topic = f"oms.bench.{run}.relay", f"oms.bench.{run}.perf"
                await create_topics(self.config.kafka, [relay_topic, perf_topic])
                self.topics += [relay_topic, perf_topic]
                self.checkpoint()
                relays.append(
                    await relay_rate(store, self.dataset_dsn, self.config.kafka, relay_topic, n, "")
                )
                perfs.append(
                    await asyncio.to_thread(
                        producer_performance, self.config, perf_topic, n, size, ""
                    )
                )
        finally:
            await store.close()
            await engine.dispose()
        relay = Result.merge("oms outbox relay", relays)
        relay.extra.update({"message_bytes": size, "batch_size": relays[0].extra["batch_size"]})
        self.record("oms outbox relay", relay)
        perf = Result.merge("kafka ProducerPerformance", perfs)
        perf.extra.update({"record_size": size, "summaries": [p.extra["summary"] for p in perfs]})
        self.record("kafka ProducerPerformance", perf)

    async def replay(self, events: int) -> None:
        """``rebuild`` of every read model from six scratch stores of order lives, and a
        raw psycopg read of the same rows, alternating, REPLAY_ROUNDS times each."""
        log(f"replay of about {events:,} order-lifecycle events into every read model")
        sources = {s: self.dbs.create(f"replay_{s}") for s in REPLAY_SOURCES}
        ops = self.dbs.create("replay_ops")
        try:
            n = await fill_replay_sources(sources, events)
            log(f"  {n:,} events in six stores; {REPLAY_ROUNDS} rounds")
            rebuilds: list[Result] = []
            raws: list[Result] = []
            for i in range(REPLAY_ROUNDS):
                self.checkpoint()
                if i % 2:
                    raws.append(await raw_read_rate(sources, n, "raw"))
                rebuilds.append(await replay_rate(ops, sources, n, "replay"))
                if not i % 2:
                    raws.append(await raw_read_rate(sources, n, "raw"))
        finally:
            for dsn in [*sources.values(), ops]:
                with contextlib.suppress(psycopg.Error):
                    self.dbs.drop(dsn)
        replay = Result.merge("oms replay all", rebuilds)
        replay.extra.update(rebuilds[-1].extra)
        self.record("oms replay all", replay)
        self.record("raw psycopg SELECT ORDER BY position", Result.merge("raw", raws))

    async def profile(self, with_kafka: bool) -> str:
        """cProfile one OMS append run (8 writers x 1 event), one read-all pass and
        (with Kafka) one relay run."""
        work = plan(self.events, 8, 1)
        sections = []
        profiled: list[tuple[str, Callable[..., Awaitable[Result]]]] = [
            ("store.append, 8 writers x 1 event", self._profiled_append),
            ("store.read_all, pages of 1,000", self._profiled_read),
        ]
        if with_kafka:
            profiled.append(("outbox relay to Kafka", self._profiled_relay))
        for what, fn in profiled:
            log(f"profiling {what}")
            profiler = cProfile.Profile()
            result = await fn(work, profiler)
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("tottime").print_stats(35)
            stats.sort_stats("cumulative").print_stats(40)
            sections.append(
                f"### {what}: {result.rate:,.0f} events/s under the profiler\n\n{text.getvalue()}"
            )
        return tidy_profile("\n\n".join(sections))

    async def _profiled_append(self, work: list[list[Append]], prof: cProfile.Profile) -> Result:
        dsn = self.dbs.create("prof_append")
        try:
            prof.enable()
            return await oms_append(dsn, work, "profiled oms append")
        finally:
            prof.disable()
            self.dbs.drop(dsn)

    async def _profiled_read(self, work: list[list[Append]], prof: cProfile.Profile) -> Result:
        assert self.dataset_dsn is not None
        engine, store = await open_store(self.dataset_dsn, 2)
        try:
            prof.enable()
            return await oms_read_all(store, self.dataset_events, "profiled read_all")
        finally:
            prof.disable()
            await store.close()
            await engine.dispose()

    async def _profiled_relay(self, work: list[list[Append]], prof: cProfile.Profile) -> Result:
        assert self.dataset_dsn is not None
        topic = f"oms.bench.{uuid.uuid4().hex[:8]}.profile"
        await create_topics(self.config.kafka, [topic])
        self.topics.append(topic)
        engine, store = await open_store(self.dataset_dsn, 2)
        try:
            prof.enable()
            return await relay_rate(
                store,
                self.dataset_dsn,
                self.config.kafka,
                topic,
                self.dataset_events,
                "profiled relay",
            )
        finally:
            prof.disable()
            await store.close()
            await engine.dispose()

    # -------------------------------------------------------------------- report

    def rows(self) -> list[Row]:
        rows: list[Row] = []
        for label, _, _ in SCENARIOS:
            if f"oms append {label}" not in self.results:
                continue  # --replay-only
            oms = self.results[f"oms append {label}"].rate
            raw = self.results[f"raw psycopg append {label}"].rate
            es = self.results[f"eventsourcing append {label}"].rate
            rows.append(
                Row(
                    f"append, {label}/tx",
                    oms,
                    "raw psycopg INSERT",
                    raw,
                    f"≥ {APPEND_VS_RAW:.0%} of raw",
                    oms >= APPEND_VS_RAW * raw,
                )
            )
            rows.append(
                Row(
                    f"append, {label}/tx",
                    oms,
                    "eventsourcing 9.5 (DB functions)",
                    es,
                    f"≥ {APPEND_VS_ES:g}x eventsourcing",
                    oms >= APPEND_VS_ES * es,
                )
            )
        if "oms read_all" in self.results:
            read = self.results["oms read_all"].rate
            rows.append(
                Row(
                    "read-all, pages of 1,000",
                    read,
                    "raw psycopg keyset SELECT",
                    self.results["raw psycopg keyset read"].rate,
                    f"≥ {READ_ALL_MIN:,.0f} events/s",
                    read >= READ_ALL_MIN,
                )
            )
        if "oms outbox relay" in self.results:
            rows.append(
                Row(
                    "outbox relay → Kafka (acks, checkpoints)",
                    self.results["oms outbox relay"].rate,
                    "Kafka ProducerPerformance",
                    self.results["kafka ProducerPerformance"].rate,
                    "(reported, no target)",
                    None,
                )
            )
        if "oms replay all" in self.results:
            rows.append(
                Row(
                    "replay, every read model",
                    self.results["oms replay all"].rate,
                    "raw psycopg SELECT ORDER BY position",
                    self.results["raw psycopg SELECT ORDER BY position"].rate,
                    "(reported, no target)",
                    None,
                )
            )
        return rows


def markdown(
    info: dict[str, Any], rows: list[Row], bench: Bench, when: str, workload: dict[str, Any]
) -> str:
    parts = [
        "# OMS benchmark results",
        "",
        f"Run {when} with `uv run python bench/run.py {' '.join(info['argv'])}`".rstrip()
        + f"; {bench.events:,} events per append measurement, "
        f"{workload['payload_json_bytes_mean']} B JSON payloads, "
        f"{workload['streams_per_writer']} streams per writer; each figure is the median of "
        f"{workload['append_rounds']} interleaved rounds ({workload['read_passes']} passes for "
        f"reads, {workload['kafka_rounds']} rounds for Kafka). See bench/README.md.",
        "",
        "## Machine",
        "",
        machine_lines(info),
        "",
        "## Figures against ceilings and targets",
        "",
        markdown_table(rows),
        "",
        "## Every run",
        "",
        details_table(bench.runs),
    ]
    if bench.ladder:
        parts += [
            "",
            "## Where an append's time goes (each rung adds one thing the store does)",
            "",
            ladder_table(bench.ladder),
        ]
    return "\n".join(parts) + "\n"


def tidy_profile(text: str) -> str:
    """Shorten file names in pstats output: site-packages, the stdlib and this checkout."""
    paths = sysconfig.get_paths()
    for prefix in (paths["purelib"], paths["platlib"], paths["stdlib"], str(REPO)):
        text = text.replace(prefix.rstrip("/") + "/", "")
    return text


def workload_facts(events: int) -> dict[str, Any]:
    payloads = [a.stream.payload for w in plan(events, 8, 1) for a in w]
    sizes = [len(json.dumps(p, separators=(",", ":"))) for p in payloads]
    return {
        "scenarios": [{"label": s[0], "writers": s[1], "events_per_tx": s[2]} for s in SCENARIOS],
        "streams_per_writer": STREAMS_PER_WRITER,
        "payload_json_bytes_mean": round(sum(sizes) / len(sizes)),
        "append_rounds": ROUNDS,
        "read_passes": READ_PASSES,
        "kafka_rounds": KAFKA_ROUNDS,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"smoke run, {QUICK_EVENTS:,} events")
    p.add_argument("--events", type=int, help=f"events per measurement ({DEFAULT_EVENTS:,})")
    p.add_argument("--no-ladder", action="store_true", help="skip the append time breakdown")
    p.add_argument("--no-kafka", action="store_true", help="skip the relay and Kafka runs")
    p.add_argument("--no-replay", action="store_true", help="skip the replay measurement")
    p.add_argument(
        "--replay-only",
        action="store_true",
        help="only the replay measurement (results in replay-latest.{json,md})",
    )
    p.add_argument(
        "--replay-events",
        type=int,
        help=f"order-lifecycle events replayed ({DEFAULT_REPLAY_EVENTS:,}; quick "
        f"{QUICK_REPLAY_EVENTS:,})",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile store.append and read_all into bench/results/profile.txt",
    )
    p.add_argument("--results", type=Path, default=BENCH_DIR / "results", help="output dir")
    e2e = p.add_argument_group("end-to-end load (orders through the services)")
    e2e.add_argument(
        "--e2e",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the end-to-end load benchmark after the store figures (default: on)",
    )
    e2e.add_argument(
        "--e2e-only",
        action="store_true",
        help="only the end-to-end load (results in e2e-latest.{json,md})",
    )
    e2e.add_argument("--e2e-rates", type=_rates, help="orders/s per step, e.g. 25,50,100")
    e2e.add_argument("--e2e-step-seconds", type=float, help="seconds per step (20; quick 5)")
    e2e.add_argument("--e2e-burst", type=int, help="orders sent at once (5,000; quick 1,000)")
    e2e.add_argument("--e2e-burst-timeout", type=float, help="seconds to wait for the burst")
    e2e.add_argument("--e2e-http-max-rate", type=float, help="highest HTTP step (100/s)")
    e2e.add_argument("--e2e-idle-seconds", type=float, help="idle measurement (30 s)")
    e2e.add_argument("--e2e-p99-limit", type=float, help="p99 beyond which a step is behind (5 s)")
    args = p.parse_args(argv)
    if args.e2e_only:
        args.e2e = True
    if args.replay_only:
        args.e2e = False
    if args.replay_events is None:
        args.replay_events = QUICK_REPLAY_EVENTS if args.quick else DEFAULT_REPLAY_EVENTS
    if args.replay_events < 100:
        p.error("--replay-events must be at least 100")
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    if args.events < 80 * ROUNDS:
        p.error(f"--events must be at least {80 * ROUNDS} (8 writers x batches of 10 x rounds)")
    return args


def _rates(text: str) -> list[float]:
    rates = [float(r) for r in text.split(",") if r.strip()]
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, e.g. 25,50,100")
    return rates


def e2e_plan(args: argparse.Namespace) -> Plan:
    plan_ = Plan.quick() if args.quick else Plan()
    overrides = {
        "rates": args.e2e_rates,
        "step_s": args.e2e_step_seconds,
        "burst": args.e2e_burst,
        "burst_timeout_s": args.e2e_burst_timeout,
        "http_max_rate": args.e2e_http_max_rate,
        "idle_s": args.e2e_idle_seconds,
        "p99_limit_s": args.e2e_p99_limit,
    }
    for name, value in overrides.items():
        if value is not None:
            setattr(plan_, name, value)
    return plan_


async def run(bench: Bench, args: argparse.Namespace) -> str | None:
    if args.replay_only:
        await bench.replay(args.replay_events)
        return None
    await bench.appends(with_ladder=not args.no_ladder)
    await bench.reads()
    if not args.no_replay:
        await bench.replay(args.replay_events)
    if not args.no_kafka:
        await bench.relay()
    return await bench.profile(not args.no_kafka) if args.profile else None


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = StackConfig()
    started = time.perf_counter()
    pid_file = config.pg_data / "postmaster.pid"
    if pid_file.is_file():
        common.PG_POSTMASTER = int(pid_file.read_text().split()[0])
    info = machine_info(config, REPO)
    log(
        f"OMS bench: {args.events:,} events per measurement; PostgreSQL {info['postgresql']}, "
        f"Kafka {info['kafka']}, {info['nproc']} CPUs"
    )
    signal.signal(signal.SIGTERM, _terminate)
    load = LoadWatch()
    dbs = ScratchDatabases(config.admin_dsn)
    bench = Bench(config, dbs, args.events)
    profile = None
    e2e: dict[str, Any] | None = None
    crashed = False
    try:
        if not args.e2e_only:
            profile = asyncio.run(run(bench, args))
        if args.e2e:
            e2e, crashed = run_e2e_part(config, dbs, args, bench)
    finally:
        left = dbs.drop_all()
        if left:
            log(f"could not drop scratch databases: {', '.join(left)}")
        if bench.topics:
            try:
                asyncio.run(delete_topics(config.kafka, bench.topics))
            except Exception as exc:  # a report must still come out; topics are scratch
                log(f"could not delete bench topics {bench.topics}: {exc}")

    info["load_during_run"] = load.report()
    now = datetime.now(UTC)
    elapsed = time.perf_counter() - started
    args.results.mkdir(parents=True, exist_ok=True)
    if args.e2e_only:
        assert e2e is not None
        write_e2e_only(args, info, e2e, now, elapsed)
    elif args.replay_only:
        write_replay_only(args, info, bench, now, elapsed)
    else:
        write_report(args, info, bench, e2e, profile, now, elapsed)
    return 1 if crashed else 0


def run_e2e_part(
    config: StackConfig, dbs: ScratchDatabases, args: argparse.Namespace, bench: Bench
) -> tuple[dict[str, Any], bool]:
    """The end-to-end load; a crash there is reported and does not lose the store figures."""
    raw = bench.results.get("raw psycopg append 8w x 10ev")
    plan_ = e2e_plan(args)
    log(
        f"end-to-end load: rates {', '.join(f'{r:g}' for r in plan_.rates)}/s, "
        f"{plan_.step_s:g} s a step, HTTP up to {plan_.http_max_rate:g}/s, burst {plan_.burst:,}"
    )
    try:
        doc, steps = asyncio.run(run_e2e(config, dbs, plan_, log, raw.rate if raw else None))
    except Exception as exc:
        log(f"end-to-end load failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"[:4000], "plan": plan_.__dict__}, True
    doc["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if steps:
        path = e2e_plot(doc, args.results / "e2e.png")
        doc["plot"] = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    return doc, False


def _e2e_section(e2e: dict[str, Any] | None) -> str:
    if e2e is None:
        return ""
    if "error" in e2e:
        return f"## End-to-end load\n\nFailed: `{e2e['error'][:500]}`\n"
    return e2e_markdown(e2e)


def write_e2e_only(
    args: argparse.Namespace,
    info: dict[str, Any],
    e2e: dict[str, Any],
    now: datetime,
    elapsed: float,
) -> None:
    doc = {"generated_at": now.isoformat(timespec="seconds"), "machine": info, "e2e": e2e}
    (args.results / "e2e-latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    md = "\n".join(
        [
            "# OMS end-to-end load results",
            "",
            f"Run {when} with `uv run python bench/run.py {' '.join(info['argv'])}`.",
            "",
            "## Machine",
            "",
            machine_lines(info),
            "",
            _e2e_section(e2e),
        ]
    )
    (args.results / "e2e-latest.md").write_text(md)
    _print_e2e(e2e)
    log(f"took {elapsed:.0f}s; wrote {args.results}/e2e-latest.md")


def write_replay_only(
    args: argparse.Namespace, info: dict[str, Any], bench: Bench, now: datetime, elapsed: float
) -> None:
    rows = bench.rows()
    doc = {
        "generated_at": now.isoformat(timespec="seconds"),
        "machine": info,
        "targets": [r.as_dict() for r in rows],
        "runs": bench.runs,
    }
    (args.results / "replay-latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    md = "\n".join(
        [
            "# OMS replay results",
            "",
            f"Run {when} with `uv run python bench/run.py {' '.join(info['argv'])}`.",
            "",
            "## Machine",
            "",
            machine_lines(info),
            "",
            markdown_table(rows),
            "",
            details_table(bench.runs),
            "",
        ]
    )
    (args.results / "replay-latest.md").write_text(md)
    print()
    print(markdown_table(rows))
    print()
    print(details_table(bench.runs))
    log(f"took {elapsed:.0f}s; wrote {args.results}/replay-latest.md")


def _print_e2e(e2e: dict[str, Any] | None) -> None:
    if e2e is not None and "steps" in e2e:
        print()
        print(e2e_summary(e2e["steps"], e2e["plan"]["step_s"]))
        print()


def write_report(
    args: argparse.Namespace,
    info: dict[str, Any],
    bench: Bench,
    e2e: dict[str, Any] | None,
    profile: str | None,
    now: datetime,
    elapsed: float,
) -> None:
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    rows = bench.rows()
    doc = {
        "generated_at": now.isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 1),
        "events_per_measurement": args.events,
        "workload": workload_facts(args.events),
        "machine": info,
        "targets": [r.as_dict() for r in rows],
        "runs": bench.runs,
        "append_breakdown": bench.ladder,
        "summary": {
            "targets_met": sum(1 for r in rows if r.met),
            "targets_total": sum(1 for r in rows if r.met is not None),
            "median_append_ratio_vs_raw": round(
                statistics.median(r.ratio or 0 for r in rows if "raw psycopg" in r.ceiling_name),
                3,
            ),
        },
        "e2e": e2e,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    (args.results / "latest.json").write_text(text)
    (args.results / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text)
    if profile is not None:
        (args.results / "profile.txt").write_text(profile)
        log(f"profile written to {args.results / 'profile.txt'}")
    md = markdown(info, rows, bench, when, doc["workload"])
    section = _e2e_section(e2e)
    (args.results / "latest.md").write_text(md + ("\n" + section if section else ""))
    print()
    print(markdown_table(rows))
    print()
    print(details_table(bench.runs))
    if bench.ladder:
        print()
        print(ladder_table(bench.ladder))
    _print_e2e(e2e)
    print()
    met, total = doc["summary"]["targets_met"], doc["summary"]["targets_total"]
    log(f"{met}/{total} targets met; took {elapsed:.0f}s; wrote {args.results}/latest.md")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
