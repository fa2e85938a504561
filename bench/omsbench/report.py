"""Machine facts, the targets, and the results as Markdown and JSON."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from oms_cli.config import StackConfig

# Targets (see bench/README.md).
APPEND_VS_RAW = 0.50  # OMS append >= 50% of raw psycopg at the same concurrency
APPEND_VS_ES = 2.0  # OMS append >= 2x eventsourcing at the same concurrency
READ_ALL_MIN = 50_000.0  # events/s


def _first_line(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0] if out else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _mem_total() -> str | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(config: StackConfig, repo: Path) -> dict[str, Any]:
    with psycopg.connect(config.admin_dsn) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        }
    jar = config.kafka_libs / f"kafka_2.13-{config.kafka_version}.jar"
    commit = _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory": _mem_total(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": settings.pop("server_version"),
        "postgresql_settings": settings,
        "kafka": config.kafka_version if jar.is_file() else f"{config.kafka_version} (jar?)",
        "java": _first_line(["java", "-version"]),
        "packages": {
            d: _version(d)
            for d in ("psycopg", "psycopg-binary", "sqlalchemy", "aiokafka", "eventsourcing")
        },
        "git_commit": commit,
        "argv": sys.argv[1:],
    }


# --------------------------------------------------------------------------- table


@dataclass
class Row:
    measure: str
    oms: float
    ceiling_name: str
    ceiling: float | None
    target: str
    met: bool | None

    @property
    def ratio(self) -> float | None:
        return self.oms / self.ceiling if self.ceiling else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "oms_events_per_s": round(self.oms, 1),
            "against": self.ceiling_name,
            "against_events_per_s": None if self.ceiling is None else round(self.ceiling, 1),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "target": self.target,
            "met": self.met,
        }


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _met(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**NOT MET**")


def markdown_table(rows: list[Row]) -> str:
    out = [
        "| measure | OMS (events/s) | against | its figure (events/s) | ratio | target | |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}x"
        out.append(
            f"| {r.measure} | {_n(r.oms)} | {r.ceiling_name} | {_n(r.ceiling)} | {ratio} "
            f"| {r.target} | {_met(r.met)} |"
        )
    return "\n".join(out)


def details_table(runs: dict[str, dict[str, Any]]) -> str:
    out = [
        "| run | events | seconds | events/s | rounds (min..max) | p50 ms | p99 ms "
        "| client CPU µs/ev | server CPU µs/ev |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, doc in runs.items():
        lat = doc.get("append_latency_ms", {})
        spread = doc.get("rounds_events_per_s")
        spread_text = f"{min(spread):,}..{max(spread):,}" if spread else "—"
        out.append(
            f"| {name} | {doc['events']:,} | {doc['seconds']:.2f} | {doc['events_per_s']:,.0f} "
            f"| {spread_text} | {lat.get('p50', '—')} | {lat.get('p99', '—')} "
            f"| {doc.get('client_cpu_us_per_event', '—')} "
            f"| {doc.get('server_cpu_us_per_event', '—')} |"
        )
    return "\n".join(out)


def ladder_table(ladder: dict[str, dict[str, dict[str, Any]]]) -> str:
    out = [
        "| scenario | rung | events/s | % of raw | client CPU µs/ev | server CPU µs/ev | p50 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, rungs in ladder.items():
        raw = next(iter(rungs.values()))["events_per_s"]
        for rung, doc in rungs.items():
            lat = doc.get("append_latency_ms", {})
            out.append(
                f"| {scenario} | {rung} | {doc['events_per_s']:,.0f} "
                f"| {doc['events_per_s'] / raw * 100:.0f}% "
                f"| {doc.get('client_cpu_us_per_event', '—')} "
                f"| {doc.get('server_cpu_us_per_event', '—')} | {lat.get('p50', '—')} |"
            )
    return "\n".join(out)


def machine_lines(info: dict[str, Any]) -> str:
    pkgs = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
    pg = ", ".join(f"{k}={v}" for k, v in info["postgresql_settings"].items())
    return "\n".join(
        [
            f"- CPUs: {info['nproc']} x {info['cpu_model']}; memory {info['memory']}; {info['os']}",
            f"- PostgreSQL {info['postgresql']} ({pg})",
            f"- Kafka {info['kafka']} (one local KRaft broker); {info['java']}",
            f"- Python {info['python']}; {pkgs}",
            f"- git {info['git_commit']}; arguments: {' '.join(info['argv']) or '(none)'}",
            f"- machine load during the run: {_load(info.get('load_during_run', {}))}",
        ]
    )


def _load(doc: dict[str, Any]) -> str:
    text = f"1-min load average {doc.get('loadavg_1m_start')} → {doc.get('loadavg_1m_end')}"
    if "cpu_busy_pct" in doc:
        text += (
            f"; all CPUs {doc['cpu_busy_pct']}% busy, this bench's process "
            f"{doc['bench_process_pct']}% (the rest: PostgreSQL, Kafka and anything else "
            "running on the machine)"
        )
    return text
