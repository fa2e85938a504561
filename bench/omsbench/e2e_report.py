"""Figures derived from the end-to-end steps, their Markdown tables and the PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .e2e import Step

SERVICES = ("order", "inventory", "payments")
TARGET_RATE = 300  # orders/s, issue 7
PROCESS_COLUMNS = (
    "order",
    "inventory",
    "payments",
    "postgresql",
    "kafka broker",
    "generator (kafka)",
    "generator (http)",
    "observer",
    "bench (this process)",
)


def step_figures(step: Step) -> dict[str, Any]:
    """Offered and completed orders/s, and the per-order costs of one step.

    *Offered* is what the generator sent over the step's scheduled length (or over the
    time it took, if it fell behind). *Completed*, for a ladder step, is the steady rate
    of confirmations: the middle 80% of the step's ``OrderConfirmed`` records over the
    time between the 10th and the 90th percentile of their timestamps. A system that keeps
    up confirms at the offered rate, shifted by its latency; one that does not confirms at
    its own throughput, however long the backlog takes to work off, and neither the ramp
    at the start nor stragglers at the end move the figure. For the burst it is the
    orders confirmed over the time from sending until the last confirmation (or until
    the bench stopped waiting): the drain rate.
    """
    sent = int(step.generator.get("sent", 0))
    send_s = float(step.generator.get("send_s", 0.0))
    confirmed_at: list[float] = sorted(step.seen.get("confirmed_at", []))
    if step.rate:
        offered = sent / max(step.count / step.rate, send_s, 1e-9)
        completed = steady_rate(confirmed_at, step.t0)
    else:
        offered = sent / max(send_s, 1e-3)
        took = step.settled_s if step.settled_s is not None else step.window_s
        completed = len(confirmed_at) / took if took else 0.0
    per = max(sent, 1)
    events = {s: step.store.get(s, {}).get("events", 0) / per for s in SERVICES}
    return {
        "sent": sent,
        "offered_per_s": round(offered, 1),
        "completed_per_s": round(completed, 1),
        "settled": step.settled_s is not None,
        "unsettled": sent
        - sum(int(step.seen.get(k, 0)) for k in ("confirmed", "cancelled", "rejected")),
        "events_per_order": {**_r(events), "total": round(sum(events.values()), 2)},
        "writing_tx_per_order": _r(
            {s: step.store.get(s, {}).get("writing_tx", 0) / per for s in SERVICES}
        ),
        "commits_per_order": _r({s: step.commits.get(s, 0) / per for s in SERVICES}),
        "cpu_ms_per_order": {
            name: round(doc["cpu_s"] * 1000 / per, 2)
            for name, doc in step.processes.items()
            if "cpu_s" in doc
        },
    }


def steady_rate(times: list[float], t0: float) -> float:
    """Events per second between the 10th and 90th percentile of sorted ``times``."""
    n = len(times)
    if n < 10:
        return n / (times[-1] - t0) if n and times[-1] > t0 else 0.0
    lo, hi = n // 10, n - 1 - n // 10
    span = times[hi] - times[lo]
    return (hi - lo) / span if span > 0 else 0.0


def _r(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in values.items()}


def step_doc(step: Step, verdict: str | None) -> dict[str, Any]:
    """The JSON of one step: as run, plus the derived figures (timestamps left out)."""
    seen = {k: v for k, v in step.seen.items() if k != "confirmed_at"}
    return {
        "label": step.label,
        "via": step.via,
        "rate": step.rate,
        "orders": step.count,
        "figures": step_figures(step),
        "verdict": verdict or "kept up",
        "seen": seen,
        "generator": step.generator,
        "consumer_lag_at_end": step.lag_end,
        "outbox_backlog_at_end": step.outbox_end,
        "processes": step.processes,
        "store_delta": step.store,
        "commits_delta": step.commits,
        "window_s": step.window_s,
        "settled_after_s": step.settled_s,
        "confirmed_per_second": per_second(step.seen.get("confirmed_at", []), step.t0),
    }


def per_second(times: list[float], t0: float) -> list[int]:
    """Confirmations in each second after ``t0`` (what the plot draws the burst from)."""
    counts: list[int] = []
    for t in times:
        i = max(int(t - t0), 0)
        counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


def ceilings_in_orders(doc: dict[str, Any], steps: list[Step]) -> dict[str, Any]:
    """The PostgreSQL- and Kafka-bound ceilings in orders/s, from the events each order
    wrote in the largest step whose orders all settled (at least the warm-up: a step
    whose orders are still under way has written only part of their events)."""
    settled = [s for s in steps if s.settled_s is not None and s.generator.get("sent")]
    if not settled:
        return {}
    ref = max(settled, key=lambda s: int(s.generator["sent"]))
    per_order = step_figures(ref)["events_per_order"]
    events = float(per_order["total"])
    ceilings = doc.get("ceilings", {})
    out: dict[str, Any] = {"events_per_order": per_order, "from_step": ref.label}
    if events > 0 and "raw_insert_events_per_s" in ceilings:
        out["postgresql_orders_per_s"] = round(ceilings["raw_insert_events_per_s"] / events, 1)
    if events > 0 and "producer_performance_msgs_per_s" in ceilings:
        # Every stored event is published once by a relay, plus the order's ingress message.
        messages = events + 1
        out["kafka_messages_per_order"] = round(messages, 2)
        out["kafka_orders_per_s"] = round(ceilings["producer_performance_msgs_per_s"] / messages, 1)
    return out


# --------------------------------------------------------------------------- Markdown


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _load(step: dict[str, Any], step_s: float) -> str:
    if step["rate"] is None:
        return f"{step['orders']:,} at once ({step['via']})"
    return f"{step['rate']:g}/s for {step_s:g} s ({step['via']})"


def _offered(step: dict[str, Any]) -> str:
    if step["rate"] is None:
        return f"all acked in {step['generator'].get('acked_s', 0):.2f} s"
    return f"{step['figures']['offered_per_s']:,.1f}/s"


def _verdict(step: dict[str, Any]) -> str:
    if step["verdict"] == "kept up":
        return "drained" if step["rate"] is None else "kept up"
    return f"**behind**: {step['verdict']}"


def summary_table(steps: list[dict[str, Any]], step_s: float) -> str:
    out = [
        "| load | offered | completed | submit → confirmed p50 / p95 / p99 "
        "| backlog at end (consumer lag · outbox) | settled | |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for s in steps:
        f, lat = s["figures"], s["seen"].get("latency_ms", {})
        settled = (
            f"all in {s['settled_after_s']:.0f} s"
            if s["settled_after_s"] is not None
            else f"{f['unsettled']:,} not after {s['window_s']:.0f} s"
        )
        out.append(
            f"| {_load(s, step_s)} | {_offered(s)} | {f['completed_per_s']:,.1f}/s "
            f"| {_ms(lat.get('p50'))} / {_ms(lat.get('p95'))} / {_ms(lat.get('p99'))} "
            f"| {sum(s['consumer_lag_at_end'].values()):,} · "
            f"{sum(s.get('outbox_backlog_at_end', {}).values()):,} | {settled} | {_verdict(s)} |"
        )
    return "\n".join(out)


def process_table(steps: list[dict[str, Any]], idle: dict[str, Any] | None) -> str:
    present = [c for c in PROCESS_COLUMNS if any(c in s["processes"] for s in steps)]
    out = [
        "| step | " + " | ".join(present) + " | all CPUs busy · other processes |",
        "|---|" + "---:|" * (len(present) + 1),
    ]
    rows = [("idle", idle["processes"])] if idle else []
    rows += [(s["label"], s["processes"]) for s in steps]
    for label, procs in rows:
        cells = []
        for c in present:
            doc = procs.get(c)
            cells.append(f"{doc['cpu_pct_of_core']:.0f}% · {doc['peak_mb']:.0f} MB" if doc else "—")
        machine = procs.get("machine")
        cells.append(
            f"{machine['cpu_busy_pct']:.0f}% · {machine['other_processes_cores']:.2f} cores"
            if machine
            else "—"
        )
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def per_order_table(steps: list[dict[str, Any]], idle: dict[str, Any] | None) -> str:
    """Events, transactions and CPU per order; commits also net of the idle polling rate."""
    idle_rate = sum(idle["commits_per_s"].values()) if idle else 0.0
    out = [
        "| step | events/order (order · inventory · payments = total) | writing tx/order "
        "| commits/order (all · net of idle polls) | CPU ms/order (services) |",
        "|---|---|---:|---|---:|",
    ]
    for s in steps:
        f = s["figures"]
        ev, tx, cm = f["events_per_order"], f["writing_tx_per_order"], f["commits_per_order"]
        cpu = sum(f["cpu_ms_per_order"].get(n, 0.0) for n in SERVICES)
        commits = sum(cm.values())
        net = commits - idle_rate * s["window_s"] / max(f["sent"], 1)
        label = s["label"]
        if not f["settled"]:  # its unsettled orders had written only part of their events
            label += f" (partial: {f['unsettled']:,} unsettled)"
        out.append(
            f"| {label} | {ev['order']} · {ev['inventory']} · {ev['payments']} = "
            f"{ev['total']} | {sum(tx.values()):.2f} | {commits:.1f} · {net:.1f} | {cpu:.1f} |"
        )
    return "\n".join(out)


def ceiling_lines(doc: dict[str, Any]) -> str:
    c, o = doc.get("ceilings", {}), doc.get("ceilings_in_orders", {})
    lines = []
    if "producer_performance_msgs_per_s" in c:
        lines.append(
            f"- Kafka ProducerPerformance: {c['producer_performance_msgs_per_s']:,.0f} msg/s of "
            f"{c['producer_performance_record_bytes']} B"
            + (
                f" / {o['kafka_messages_per_order']} messages per order (ingress + every "
                f"stored event relayed) = **{o['kafka_orders_per_s']:,.0f} orders/s**"
                if "kafka_orders_per_s" in o
                else ""
            )
        )
    if "raw_insert_events_per_s" in c:
        lines.append(
            f"- raw batched INSERT ({c['raw_insert_source']}): "
            f"{c['raw_insert_events_per_s']:,.0f} events/s"
            + (
                f" / {o['events_per_order']['total']} events per order = "
                f"**{o['postgresql_orders_per_s']:,.0f} orders/s** (PostgreSQL-bound)"
                if "postgresql_orders_per_s" in o
                else ""
            )
        )
    if "from_step" in o:
        lines.append(f"- events per order from the step {o['from_step']!r}")
    return "\n".join(lines)


def idle_lines(idle: dict[str, Any] | None) -> str:
    if not idle:
        return "- (not measured)"
    procs, commits = idle["processes"], idle["commits_per_s"]
    parts = []
    for name in SERVICES:
        pct = procs[name]["cpu_pct_of_core"]
        mark = "met" if pct < 1.0 else "**NOT MET**"
        parts.append(
            f"- {name}: {pct}% of a core over {idle['seconds']:g} s "
            f"({commits.get(name, 0):g} commits/s in its database); target < 1%: {mark}"
        )
    return "\n".join(parts)


def _mark(met: bool) -> str:
    return "met" if met else "**NOT MET**"


def target_lines(doc: dict[str, Any]) -> str:
    """Issue 7's targets against this run's steps (the idle target is listed with idle)."""
    steps = doc["steps"]
    kafka = [s for s in steps if s["via"] == "kafka" and s["rate"] is not None]
    kept = [s for s in kafka if s["verdict"] == "kept up"]

    def p99(step: dict[str, Any]) -> float:
        value = step["seen"].get("latency_ms", {}).get("p99")
        return float("inf") if value is None else float(value)

    best = max(kept, key=lambda s: s["rate"], default=None)
    top = max((s["figures"]["completed_per_s"] for s in kafka), default=0.0)
    summary = (
        f"highest step kept up: {best['rate']:g}/s" if best else "no step kept up"
    ) + f"; highest completed rate: {top:,.1f}/s"
    lines = []
    for rate, limit, name in ((TARGET_RATE, 1000.0, "target"), (1000, 1000.0, "moonshot")):
        met = any(s["rate"] >= rate and p99(s) < limit for s in kept)
        lines.append(
            f"- {name}: ≥ {rate:,} orders/s through confirmation with p99 < 1 s: "
            f"{_mark(met)} ({summary})"
        )
    at_25 = [s for s in kafka if s["rate"] == 25]
    if at_25:
        lines.append(
            f"- p99 < 250 ms at 25 orders/s: {_mark(p99(at_25[0]) < 250)} "
            f"(p99 {_ms(at_25[0]['seen'].get('latency_ms', {}).get('p99'))})"
        )
    for b in (s for s in steps if s["rate"] is None):
        rate = b["figures"]["completed_per_s"]
        drained = b["settled_after_s"] is not None
        lines.append(
            f"- burst of {b['orders']:,} drained at ≥ {TARGET_RATE} orders/s: "
            f"{_mark(drained and rate >= TARGET_RATE)} ({rate:,.1f}/s"
            + ("" if drained else f", {b['figures']['unsettled']:,} still unsettled")
            + ")"
        )
    peaks = {
        name: max((s["processes"].get(name, {}).get("peak_mb", 0.0) for s in steps), default=0)
        for name in SERVICES
    }
    lines.append(
        f"- each service's RSS < 300 MB: {_mark(max(peaks.values(), default=0) < 300)} "
        f"(peaks: {', '.join(f'{k} {v:.0f} MB' for k, v in peaks.items())})"
    )
    return "\n".join(lines)


def markdown(doc: dict[str, Any]) -> str:
    steps, step_s = doc["steps"], doc["plan"]["step_s"]
    parts = [
        "## End-to-end load (orders through confirmation)",
        "",
        f"Order, inventory and payments as processes on scratch databases, own topics "
        f"(prefix `bench{doc['run']}.`); realistic orders (1-3 lines, one card payment) "
        f"offered open-loop by a generator process on the ingress topic, then over HTTP "
        f"(`POST /v1/orders`), {step_s:g} s a step, each ladder stopping at the first step "
        f"that falls behind (completed < {doc['plan']['min_completed_ratio']:.0%} of "
        f"offered, p99 > {doc['plan']['p99_limit_s']:g} s, or orders unsettled "
        f"{doc['plan']['drain_s']:g} s after the step). Submit → confirmed: from each "
        "order's scheduled send time to its `OrderConfirmed` record on the order events "
        f"topic. Took {doc.get('duration_s', 0):.0f} s. See bench/README.md.",
        "",
        summary_table(steps, step_s),
        "",
        "Targets (issue 7):",
        "",
        target_lines(doc),
        "",
        "Ceilings measured in the same run:",
        "",
        ceiling_lines(doc),
        "",
        "Idle (no traffic):",
        "",
        idle_lines(doc.get("idle")),
        "",
        "### CPU (% of one core over the step and its drain) and peak memory per process",
        "",
        "PostgreSQL: all its processes, memory as summed PSS; others: RSS. Last column: "
        "how busy the machine's CPUs were, and the cores taken by processes outside this "
        "run (other users of a shared machine): a busy machine lowers every figure.",
        "",
        process_table(steps, doc.get("idle")),
        "",
        "### What each order costs",
        "",
        "Writing tx: distinct transactions that appended events; commits: every commit in "
        "the service's database during the step, the read-only polls of relays and "
        "projections included (idle rate above).",
        "",
        per_order_table(([doc["warmup"]] if "warmup" in doc else []) + steps, doc.get("idle")),
    ]
    if doc.get("plot"):
        parts += ["", f"Plot: `{doc['plot']}`"]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- plot


def plot(doc: dict[str, Any], path: Path) -> Path:
    """Offered vs completed and p50/p99 vs offered per ladder; the burst's confirmations.

    Drawn from the JSON document alone, so a run's plot can be drawn again from its
    results (``python -m omsbench.e2e_report results/latest.json``).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display here; must precede pyplot
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    burst = [s for s in doc["steps"] if s["rate"] is None]
    fig, axes = plt.subplots(1, 3 if burst else 2, figsize=(16 if burst else 11, 4.6))
    rated = [s for s in doc["steps"] if s["rate"] is not None]
    offered_all = [s["figures"]["offered_per_s"] for s in rated] or [1.0]
    lo, hi = min(offered_all) / 1.5, max(max(offered_all), TARGET_RATE) * 1.5
    for via, colour, marker in (("kafka", "tab:blue", "o"), ("http", "tab:orange", "s")):
        rows = [s for s in rated if s["via"] == via]
        if not rows:
            continue
        offered = [s["figures"]["offered_per_s"] for s in rows]
        completed = [s["figures"]["completed_per_s"] for s in rows]
        lat = [s["seen"].get("latency_ms", {}) for s in rows]
        kw = {"color": colour, "marker": marker}
        axes[0].plot(offered, completed, label=f"completed ({via})", **kw)
        axes[1].plot(offered, [(x.get("p99") or 0) / 1000 for x in lat], label=f"p99 ({via})", **kw)
        axes[1].plot(
            offered,
            [(x.get("p50") or 0) / 1000 for x in lat],
            linestyle=":",
            label=f"p50 ({via})",
            **kw,
        )
    axes[0].plot([lo, hi], [lo, hi], color="grey", linestyle="--", label="completed = offered")
    axes[0].axvline(TARGET_RATE, color="green", alpha=0.4, label=f"target {TARGET_RATE}/s")
    axes[0].set(xlabel="offered orders/s", ylabel="completed orders/s", title="Throughput")
    axes[1].set(xlabel="offered orders/s", ylabel="submit → confirmed (s)", title="Latency")
    axes[1].axhline(1.0, color="green", alpha=0.4, label="target p99 1 s (at 300/s)")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    rates = [t for t in (1, 2, 5, 10, 25, 50, 100, 200, 300, 500, 1000, 2000) if lo <= t <= hi]
    for ax, yticks in (
        (axes[0], (1, 2, 5, 10, 25, 50, 100, 200, 300, 500, 1000, 2000)),
        (axes[1], (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250)),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(FixedLocator(rates))
        ax.yaxis.set_major_locator(FixedLocator(yticks))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(NullFormatter())
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if burst:
        b = burst[-1]
        total, cumulative = 0, []
        for n in b.get("confirmed_per_second", []):
            total += n
            cumulative.append(total)
        axes[2].plot(range(1, len(cumulative) + 1), cumulative, color="tab:blue")
        if not cumulative:  # results written before the series was recorded
            axes[2].text(0.5, 0.5, "no per-second data", ha="center", transform=axes[2].transAxes)
        axes[2].set(
            xlabel="seconds after the burst was sent",
            ylabel="orders confirmed",
            title=f"Burst of {b['orders']:,} on the ingress topic",
        )
        axes[2].grid(True, alpha=0.3)
    fig.suptitle(f"OMS orders end to end ({doc.get('generated_at', '')})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    import json
    import sys

    # Draw a run's plot again: python -m omsbench.e2e_report results/latest.json [out.png]
    results = Path(sys.argv[1])
    loaded = json.loads(results.read_text())
    e2e_doc = loaded.get("e2e", loaded)
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else results.parent / "e2e.png"
    print(plot(e2e_doc, out))
