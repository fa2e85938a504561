"""`oms replay`: rebuild the operations read models from the services' event stores."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from oms_cli import audit
from oms_cli.audit import AuditError
from oms_cli.audit_cli import DbOption

console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def _live_generation() -> int:
    """The generation the operations service runs with: ``OMS_OPERATIONS_GENERATION``
    (read as its settings read it), else its default."""
    from oms_operations.settings import OperationsSettings

    field = OperationsSettings.model_fields["generation"]
    raw = os.environ.get("OMS_OPERATIONS_GENERATION")
    if raw is None:
        return int(field.default)
    try:
        value = int(raw)
    except ValueError:
        raise typer.BadParameter(
            f"OMS_OPERATIONS_GENERATION={raw[:20]!r} is not a number"
        ) from None
    if not 1 <= value <= 1_000_000:
        raise typer.BadParameter("OMS_OPERATIONS_GENERATION must be 1..1000000")
    return value


def replay(
    projection: Annotated[
        str,
        typer.Argument(
            help="A read model without its ops_ prefix (orders, shipments, returns, "
            "feedback, payments, timeline, ...) or all."
        ),
    ],
    generation: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1_000_000,
            help="The live consumers' generation (default: OMS_OPERATIONS_GENERATION, or 1).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Rebuild a read model (or all) from every service's event store.

    Works with the operations service running: it waits while the rebuild holds the
    tables, then goes on from where it was, applying nothing twice and missing nothing
    (the rebuild writes the consumers' inbox rows in the same commit as the rows). The
    rebuilt rows equal the live ones. A projection added to the operations service is
    backfilled over all history by construction: a rebuild reads every store from its
    beginning. A read model written by the same consumer as others is rebuilt with them
    (they share its inbox): replaying feedback also rebuilds orders.
    """
    from oms_operations.replay import Progress as Step
    from oms_operations.replay import ReplayError, plan, rebuild
    from oms_platform.db import create_engine

    try:
        chosen = plan([projection])
        dbs = audit.databases(db, ["operations", *chosen.services])
    except (ReplayError, AuditError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    gen = generation or _live_generation()
    if not as_json:
        console.print(
            f"rebuilding {', '.join(chosen.tables)} from {', '.join(chosen.services)} "
            f"(consumers {', '.join(f'{c}-g{gen}' for c in chosen.consumers)})"
        )
    bar = Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events  {task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console if as_json else console,
        transient=as_json,
    )
    started = time.perf_counter()
    task: TaskID | None = None

    def show(step: Step) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task(step.phase, total=None, rate="")
        elapsed = time.perf_counter() - started
        rate = f"{step.read / elapsed:,.0f}/s" if elapsed > 0 and step.read else ""
        total = step.total or None
        bar.update(task, description=step.phase, completed=step.read, total=total, rate=rate)

    async def run() -> Any:
        engine = create_engine(dbs["operations"], pool_size=1, application_name="oms-replay")
        try:
            return await rebuild(
                engine,
                {s: dsn for s, dsn in dbs.items() if s != "operations"},
                models=[projection],
                generation=gen,
                progress=show,
            )
        finally:
            await engine.dispose()

    try:
        with bar:
            stats = asyncio.run(run())
    except ReplayError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:  # a database refusing (lock timeout, unreachable)
        err_console.print(
            f"[bold red]replay failed, nothing changed:[/] {type(exc).__name__}: {exc}"
        )
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(stats.as_dict(), default=str))
        return
    rows = ", ".join(f"{t} {n:,}" for t, n in stats.rows.items())
    console.print(
        f"[bold]{stats.events_read:,} events read[/] ({stats.events_applied:,} applied), "
        f"[bold]{stats.rows_written:,} rows written[/] ({rows}), "
        f"{stats.inbox_rows:,} inbox rows, in {stats.elapsed_s:.2f}s: "
        f"[bold]{stats.events_per_s:,.0f} events/s[/]"
    )
    if stats.undecodable:
        console.print(f"[yellow]{stats.undecodable} events did not parse and were skipped[/]")
