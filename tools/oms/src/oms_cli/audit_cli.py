"""The `oms audit` commands (order, verify, export) over :mod:`oms_cli.audit`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import ExitStack
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oms_cli import audit
from oms_cli.audit import AuditError
from oms_cli.config import StackConfig
from oms_events.topics import AUDIT_ANCHORS

audit_app = typer.Typer(
    help="What the event stores say: an order's history and state at a moment, the tamper "
    "check, the export for auditors.",
    no_args_is_help=True,
)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DbOption = Annotated[
    list[str] | None,
    typer.Option(
        "--db",
        metavar="SERVICE=DSN",
        help="Read SERVICE's store at DSN instead of the local stack's (repeatable).",
    ),
]
ServiceOption = Annotated[
    list[str] | None, typer.Option("--service", help="Only this service's store (repeatable).")
]


def _out() -> Console:
    """Standard output, as wide as ``COLUMNS`` says at the time of the command."""
    return Console(soft_wrap=True, highlight=False)


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


@audit_app.command("order")
def order(
    order_id: Annotated[str, typer.Argument(help="The order id, e.g. ord-8799b6818374.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="ISO time: the history and state as they were then."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    service: ServiceOption = None,
    db: DbOption = None,
) -> None:
    """The order's cross-service timeline (type, time, actor, producer, cause, service)
    from every store, and its state at that moment: its events folded through the
    operations read models (order, parcels, payments, returns, feedback)."""
    try:
        moment = audit.parse_time(as_of) if as_of else None
        dbs = audit.pick(audit.databases(db, audit.SOURCE_SERVICES), service)
        events = audit.order_events(dbs, order_id, moment)
        state = audit.state_of(order_id, events)
    except AuditError as exc:
        raise _fail(exc) from None
    if as_json:
        doc = {
            "order_id": order_id,
            "as_of": moment.isoformat() if moment else None,
            "timeline": [_timeline_entry(e) for e in events],
            "state": state,
        }
        typer.echo(json.dumps(doc, ensure_ascii=False))
        raise typer.Exit(0 if events else 1)
    console = _out()
    if not events:
        console.print(f"no events about {order_id}" + (f" by {as_of}" if as_of else ""))
        raise typer.Exit(1)
    when = f" as of {moment.isoformat()}" if moment else ""
    table = Table(title=f"{order_id}: {len(events)} events{when}")
    for column in ("occurred (UTC)", "service", "type", "actor", "producer", "cause", "stream"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(
            e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.service,
            e.type,
            e.actor,
            e.producer,
            e.causation_id or "",
            f"{e.stream_id}@{e.stream_version}",
        )
    console.print(table)
    for name, rows in state.items():
        for row in rows:
            detail = Table(title=f"{name}{when}", show_header=False)
            detail.add_column("field", style="bold")
            detail.add_column("value", overflow="fold")
            for field, value in row.items():
                shown = value if isinstance(value, str) else json.dumps(value)
                detail.add_row(field, shown)
            console.print(detail)


def _timeline_entry(e: audit.StoredEvent) -> dict[str, Any]:
    doc = e.fields()
    doc["payload"] = json.loads(e.payload)
    return doc


@audit_app.command("verify")
def verify(
    service: ServiceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    db: DbOption = None,
    chain_key: Annotated[
        Path | None,
        typer.Option(
            "--chain-key",
            help="File with the chain key (hex); default the local stack's "
            "<home>/secrets/chain.key when there is one. Without it hashes are not recomputed.",
        ),
    ] = None,
    anchors: Annotated[
        bool,
        typer.Option(
            "--anchors/--no-anchors",
            help="Check the stores against the signed chain heads on the audit topic.",
        ),
    ] = True,
    anchor_key: Annotated[
        Path | None,
        typer.Option(
            "--anchor-key",
            help="PEM public key of the anchors; default <home>/secrets/anchor-signing.pub.pem.",
        ),
    ] = None,
    topic_prefix: Annotated[
        str, typer.Option("--topic-prefix", help="The deployment's topic prefix, if any.")
    ] = "",
) -> None:
    """The tamper check over every service's store: each stream's versions without gaps,
    every event's hash recomputed with the chain key, the stream head matching, and each
    stream against its last signed anchor on the audit topic (rewritten, truncated or
    deleted since, or an anchor whose signature does not verify). Exit code 1 on any
    finding (each reported with service, stream, version and kind), 0 otherwise."""
    try:
        config = StackConfig()
        secrets_dir = config.home / "secrets"
        dbs = audit.pick(audit.databases(db, config=config), service)
        key_file = chain_key or secrets_dir / "chain.key"
        key = audit.chain_key_of(key_file) if chain_key or key_file.exists() else None
        anchor_set = None
        if anchors:
            public_key = audit.anchor_public_key(
                anchor_key or secrets_dir / "anchor-signing.pub.pem"
            )
            options = config.kafka.options()  # the stack's super user, as every tool
            topic = f"{topic_prefix}{AUDIT_ANCHORS}"
            anchor_set = asyncio.run(audit.load_anchors(options, topic, public_key))
        result = asyncio.run(audit.verify(dbs, chain_key=key, anchors=anchor_set))
    except AuditError as exc:
        raise _fail(exc) from None
    breaks = result.breaks or []
    console = _out()
    if as_json:
        doc = {
            "streams": result.streams,
            "events": result.events,
            "breaks": [b.__dict__ for b in breaks],
            "keyed": result.keyed,
            "anchors": result.anchors,
        }
        typer.echo(json.dumps(doc))
        raise typer.Exit(1 if breaks else 0)
    checked = [
        "hashes recomputed with the chain key"
        if result.keyed
        else "[yellow]no chain key[/]: hashes not recomputed",
        "anchors not read" if result.anchors is None else f"{result.anchors:,} anchors checked",
    ]
    if breaks:
        table = Table(title=f"{len(breaks)} breaks in {', '.join(dbs)}")
        for column in ("service", "stream", "version", "kind", "detail"):
            table.add_column(column, overflow="fold")
        for b in breaks:
            version = "" if b.stream_version is None else str(b.stream_version)
            table.add_row(b.service, b.stream_id, version, f"[red]{b.kind}[/]", b.detail)
        console.print(table)
        console.print("; ".join(checked))
        raise typer.Exit(1)
    console.print(
        f"[green]{result.streams:,} streams, {result.events:,} events verified[/] "
        f"({', '.join(dbs)}; {'; '.join(checked)})"
    )


@audit_app.command("export")
def export(
    start: Annotated[
        str | None, typer.Option("--from", help="ISO date or time (occurred at or after).")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="ISO time (before it), or a date (that day included)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    stream: Annotated[str | None, typer.Option(help="Only this stream.")] = None,
    service: ServiceOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Every event in the range for auditors: service, position, event id, stream,
    version, type, occurred/recorded times, actor, producer, correlation, causation and
    payload (JSON; in CSV as JSON text). Store by store in position order, streamed."""
    try:
        if fmt not in ("jsonl", "csv"):
            raise AuditError(f"--format is jsonl or csv, not {fmt[:20]!r}")
        since = audit.parse_time(start) if start else None
        until = audit.parse_time(end, end=True) if end else None
        if since and until and until <= since:
            raise AuditError("--to must be after --from")
        if stream is not None:
            audit.check_id(stream, "stream id")
        dbs = audit.pick(audit.databases(db, audit.SOURCE_SERVICES), service)
        with ExitStack() as stack:
            out = (
                stack.enter_context(output.open("w", encoding="utf-8", newline=""))
                if output
                else sys.stdout
            )
            rows = audit.export_rows(dbs, start=since, end=until, stream=stream)
            count = audit.write_export(rows, out, fmt)
    except AuditError as exc:
        raise _fail(exc) from None
    except BrokenPipeError:  # `oms audit export | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:
        raise _fail(AuditError(f"cannot write {output}: {exc.strerror}")) from None
    if output:
        _out().print(f"{count:,} events written to {output}")
