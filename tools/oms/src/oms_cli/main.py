"""The `oms` command: run the local OMS stack (PostgreSQL + Kafka, later the services)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oms_cli import kafka
from oms_cli.config import StackConfig
from oms_cli.proc import StackError
from oms_cli.stack import all_healthy, ensure_down, ensure_up, status

app = typer.Typer(help="Operate the OMS locally.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(exc: StackError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(1)


def _action_style(action: str) -> str:
    return "[green]started[/]" if action == "started" else "[dim]already running[/]"


@app.command()
def up(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    with_services: Annotated[
        bool, typer.Option("--services/--no-services", help="Also start the services.")
    ] = True,
) -> None:
    """Start PostgreSQL, Kafka and the services (idempotent: only what is not running yet)."""
    config = StackConfig()
    t0 = time.monotonic()
    try:
        result = ensure_up(config, services=with_services)
    except StackError as exc:
        raise _fail(exc) from None
    elapsed = time.monotonic() - t0
    if as_json:
        typer.echo(json.dumps(result))
        return
    pg, kf = result["postgres"], result["kafka"]
    console.print(f"postgres  {_action_style(pg['action'])}  {pg['dsn']}")
    if pg["created_databases"]:
        console.print(f"          created databases: {', '.join(pg['created_databases'])}")
    if kf["downloaded_jars"]:
        console.print(f"kafka     jars resolved into {config.kafka_libs}")
    console.print(f"kafka     {_action_style(kf['action'])}  {kf['bootstrap']}")
    for name, info in result["services"].items():
        console.print(f"{name:<9} {_action_style(str(info.get('action', '')))}")
    console.print(f"[dim]ready in {elapsed:.1f}s (state: {config.home})[/]")


@app.command()
def down() -> None:
    """Stop what `oms up` started (never touches other processes; idempotent)."""
    try:
        result = ensure_down(StackConfig())
    except StackError as exc:
        raise _fail(exc) from None
    for name in result["services"]:
        console.print(f"{name:<9} stopped")
    for name in ("kafka", "postgres"):
        state = result[name]
        shown = "[yellow]stopped[/]" if state == "stopped" else "[dim]not running[/]"
        console.print(f"{name:<9} {shown}")


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Health of the stack. Exit code 0 when everything is healthy, 1 otherwise."""
    config = StackConfig()
    doc = status(config)
    ok = all_healthy(doc)
    if as_json:
        typer.echo(json.dumps(doc))
        raise typer.Exit(0 if ok else 1)

    def mark(healthy: Any) -> str:
        return "[green]healthy[/]" if healthy else "[red]down[/]"

    table = Table(title=f"OMS local stack ({config.home})")
    table.add_column("component")
    table.add_column("health")
    table.add_column("endpoint", overflow="fold")
    table.add_row("postgres", mark(doc["postgres"]["healthy"]), doc["postgres"]["dsn"])
    table.add_row("kafka", mark(doc["kafka"]["healthy"]), doc["kafka"]["bootstrap"])
    for name, info in doc["services"].items():
        table.add_row(name, mark(info.get("healthy")), str(info.get("url", "")))
    console.print(table)
    raise typer.Exit(0 if ok else 1)


@app.command(
    "kafka-tool",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def kafka_tool(
    ctx: typer.Context,
    main_class: Annotated[
        str,
        typer.Argument(
            help="Java main class, e.g. org.apache.kafka.tools.ProducerPerformance. A bare "
            "name (ProducerPerformance) means org.apache.kafka.tools.<name>."
        ),
    ],
) -> None:
    """Run a Kafka Java tool with the cached Kafka jars; extra args go to the tool.

    Put `--` before the tool's arguments if they clash with oms options, e.g.
    `oms kafka-tool ProducerPerformance -- --help`.
    """
    if "." not in main_class:
        main_class = f"org.apache.kafka.tools.{main_class}"
    try:
        cmd = kafka.kafka_java_cmd(StackConfig(), main_class, *ctx.args)
    except StackError as exc:
        raise _fail(exc) from None
    sys.stdout.flush()
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="How many orders to place.")] = 60,
    rate: Annotated[float, typer.Option(help="Orders per second.")] = 2.0,
    seed: Annotated[bool, typer.Option(help="Seed warehouses, SKUs, stock, gift cards.")] = True,
) -> None:
    """Seed the services and place realistic orders; print what happens to each."""
    from oms_cli.demo import run_demo  # imports the event contracts: only when needed

    config = StackConfig()
    doc = status(config)
    if not all_healthy(doc) or not doc["services"]:
        err_console.print("[bold red]error:[/] the stack is not up with its services; run `oms up`")
        raise typer.Exit(1)
    outcomes = asyncio.run(run_demo(config, console, orders=orders, rate=rate, seed_data=seed))
    summary = ", ".join(f"{n} {status}" for status, n in outcomes.most_common())
    console.print(f"[bold]{sum(outcomes.values())} orders:[/] {summary}")
    console.print(f"order API: {config.service_url('order')}/v1/orders/<order_id>")


if __name__ == "__main__":
    app()
