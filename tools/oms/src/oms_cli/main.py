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

from oms_cli import kafka, tokens
from oms_cli.audit_cli import audit_app
from oms_cli.config import StackConfig
from oms_cli.proc import StackError
from oms_cli.replay import replay
from oms_cli.stack import all_healthy, ensure_down, ensure_up, status
from oms_cli.tokens import sign_in_link
from oms_platform.auth import Scope

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
    with_simulators: Annotated[
        bool,
        typer.Option(
            "--simulators/--no-simulators",
            help="Also start the warehouse and carrier simulators (only with the services).",
        ),
    ] = True,
) -> None:
    """Start PostgreSQL, Kafka, the services and the warehouse and carrier simulators
    (idempotent: only what is not running yet)."""
    config = StackConfig()
    t0 = time.monotonic()
    try:
        result = ensure_up(config, services=with_services, simulators=with_simulators)
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
    for kind, info in result["simulators"].items():
        shown = _action_style(str(info.get("action", "")))
        console.print(f"{kind + ' sim':<9} {shown}  [dim]log {info.get('log')}[/]")
    console.print(f"[dim]ready in {elapsed:.1f}s (state: {config.home})[/]")


@app.command()
def down() -> None:
    """Stop what `oms up` started (never touches other processes; idempotent)."""
    try:
        result = ensure_down(StackConfig())
    except StackError as exc:
        raise _fail(exc) from None
    for kind in result["simulators"]:
        console.print(f"{kind + ' sim':<9} stopped")
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
    table.add_column("progress", overflow="fold")
    table.add_row("postgres", mark(doc["postgres"]["healthy"]), doc["postgres"]["dsn"], "")
    table.add_row("kafka", mark(doc["kafka"]["healthy"]), doc["kafka"]["bootstrap"], "")
    for name, info in doc["services"].items():
        ready = info.get("ready") or {}
        shown = mark(True) if info.get("healthy") else "[red]degraded[/]"
        table.add_row(name, shown, str(info.get("url", "")), progress_summary(ready))
    for kind, info in doc["simulators"].items():
        shown = "[green]alive[/]" if info.get("alive") else "[red]dead[/]"
        pid = f"pid {info['pid']}" if info.get("pid") else "not running"
        why = "" if info.get("alive") else f"[red]exited; see {info.get('log')}[/]"
        table.add_row(f"{kind} simulator", shown, pid, why)
    console.print(table)
    ops = doc["services"].get("operations")
    if ops and ops.get("healthy"):
        print_dashboard_links(config, str(ops["url"]))
    raise typer.Exit(0 if ok else 1)


def print_dashboard_links(config: StackConfig, url: str) -> None:
    """The dashboard and console URLs, and a sign-in link for a local staff member (the
    token rides in the fragment: the browser does not send it to the server)."""
    link = sign_in_link(config, url)
    console.print(f"[bold]dashboard:[/] {url}/   [bold]customer service:[/] {url}/console")
    console.print(f"[bold]sign in (12 h):[/] {link}")


@app.command()
def token(
    scope: Annotated[
        list[Scope],
        typer.Option("--scope", "-s", help="A scope the token allows (repeat for more)."),
    ],
    subject: Annotated[
        str,
        typer.Option(
            help="Who calls: staff:<user>, platform:<channel>, service:<name> or customer:<id>; "
            "recorded as the actor of the events its requests cause."
        ),
    ],
    ttl: Annotated[int, typer.Option(help="Seconds the token is valid.", min=1)] = 3600,
) -> None:
    """Mint a bearer token signed with the local stack's key (.oms/secrets), for
    `curl -H "Authorization: Bearer $(oms token …)"`."""
    try:
        typer.echo(tokens.mint(StackConfig(), scope, subject=subject, ttl_s=ttl))
    except ValueError as err:
        err_console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(2) from None


def progress_summary(ready: dict[str, Any]) -> str:
    """One line of what ``/ready`` says: lag, parked, dead letters, stalled, and why not."""
    parts = []
    relay = ready.get("relay") or {}
    if relay:
        parts.append(f"relay lag {relay.get('lag_events', '?')} ({relay.get('lag_s', '?')}s)")
    lags = (ready.get("consumers") or {}).get("lag") or {}
    if lags:
        parts.append(f"consumer lag {sum(v or 0 for v in lags.values())}")
    letters = ready.get("dead_letters") or {}
    if letters:
        parts.append(f"dead-lettered {letters.get('dead_lettered', 0)}")
        parts.append(f"parked {letters.get('parked', 0)}")
    stalled = ready.get("stalled_orders")
    if isinstance(stalled, dict) and "stalled" in stalled:
        parts.append(f"stalled orders {stalled['stalled']}")
    reasons = ready.get("reasons") or []
    if reasons:
        parts.append("[red]" + "; ".join(str(r) for r in reasons) + "[/]")
    return ", ".join(parts)


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
    follow: Annotated[
        bool,
        typer.Option(help="Follow the confirmed orders to delivery, returns and feedback."),
    ] = True,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait, at most, for the orders to be delivered.")
    ] = 120.0,
    returns: Annotated[int, typer.Option(min=0, max=3, help="Returns to start (0-3).")] = 3,
    platform: Annotated[
        str | None,
        typer.Option(
            help="shopify or adobe-commerce: place the orders at that platform's sandbox, in "
            "its own format, through the connectors service (default: 6 orders)."
        ),
    ] = None,
) -> None:
    """Seed the services and place realistic orders; print what happens to each, then
    follow them through the warehouse and carrier simulators to delivery, return a few and
    rate them."""
    from oms_cli.demo import run_demo  # imports the event contracts: only when needed

    config = StackConfig()
    if platform is not None:
        from oms_cli.platform_demo import PLATFORMS, run_platform_demo

        if platform not in PLATFORMS:
            err_console.print(f"[bold red]error:[/] --platform is one of {', '.join(PLATFORMS)}")
            raise typer.Exit(2)
        doc = status(config)
        if not all_healthy(doc) or "connectors" not in doc["services"]:
            err_console.print(
                "[bold red]error:[/] the stack is not up with its services; run `oms up`"
            )
            raise typer.Exit(1)
        count = orders if orders != 60 else 6
        asyncio.run(
            run_platform_demo(config, console, platform, orders=count, wait_s=wait, seed_data=seed)
        )
        return
    doc = status(config)
    if not all_healthy(doc) or not doc["services"]:
        err_console.print("[bold red]error:[/] the stack is not up with its services; run `oms up`")
        raise typer.Exit(1)
    simulating = {k for k, s in doc.get("simulators", {}).items() if s.get("alive")}
    if follow and simulating != {"warehouse", "carrier"}:
        err_console.print(
            "[yellow]the warehouse and carrier simulators are not running (`oms up` starts "
            "them): orders stop at confirmed, so the demo does not follow them[/]"
        )
        follow = False
    outcomes = asyncio.run(
        run_demo(
            config,
            console,
            orders=orders,
            rate=rate,
            seed_data=seed,
            follow=follow,
            wait_s=wait,
            returns=returns,
        )
    )
    summary = ", ".join(f"{n} {status}" for status, n in outcomes.most_common())
    console.print(f"[bold]{sum(outcomes.values())} orders:[/] {summary}")
    console.print(f"order API: {config.service_url('order')}/v1/orders/<order_id>")
    if "operations" in doc["services"]:
        console.print(f"dashboard: {config.service_url('operations')}/")


dlq_app = typer.Typer(
    help="Dead letters and parked events of every service: list, show, replay.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")


def _dlq_run(coro: Any) -> Any:
    from oms_cli.dlq import DlqError

    try:
        return asyncio.run(coro)
    except DlqError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


@dlq_app.command("list")
def dlq_list(
    include_done: Annotated[
        bool, typer.Option("--all", help="Also entries already replayed or published.")
    ] = False,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Dead letters and parked events, grouped by topic, consumer and error code."""
    from oms_cli.dlq import databases_of, list_entries

    rows = _dlq_run(
        list_entries(databases_of(StackConfig()), include_done=include_done, service=service)
    )
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    if not rows:
        console.print("no dead letters and no parked events")
        return
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["service"], str(row["topic"] or "(relay)"), str(row["consumer"]), row["code"])
        groups.setdefault(key, []).append(row)
    table = Table(title="dead letters and parked events")
    for column in ("service", "topic", "consumer", "code", "count", "newest", "reason", "ids"):
        table.add_column(column, overflow="fold")
    for (svc, topic, consumer, code), members in groups.items():
        ids = " ".join(m["id"] for m in members[:5]) + (" ..." if len(members) > 5 else "")
        table.add_row(
            svc,
            topic,
            consumer,
            code,
            str(len(members)),
            f"{members[0]['age_s']}s ago",
            str(members[0]["reason"])[:120],
            ids,
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(entry: Annotated[str, typer.Argument(help="An id from `oms dlq list`.")]) -> None:
    """Everything recorded about one entry, the message itself included."""
    from oms_cli.dlq import databases_of, show_entry

    row = _dlq_run(show_entry(databases_of(StackConfig()), entry))
    for name in ("value", "key"):
        if isinstance(row.get(name), bytes | memoryview):
            row[name] = bytes(row[name]).decode("utf-8", errors="replace")
    typer.echo(json.dumps(row, default=str, indent=2))


@dlq_app.command("replay")
def dlq_replay(
    entries: Annotated[
        list[str] | None, typer.Argument(help="Ids to replay (default: all matching).")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Only messages from this topic.")] = None,
    consumer: Annotated[str | None, typer.Option(help="Only this consumer's.")] = None,
    code: Annotated[str | None, typer.Option(help="Only this error code.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service's.")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the outcomes.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Re-deliver dead letters to the consumer that failed them (idempotent via its inbox).

    Exit code 0 when every replayed entry reached its effect (or was a duplicate), 1 when
    any failed again or is still pending.
    """
    from oms_cli.dlq import databases_of, replay

    results = _dlq_run(
        replay(
            databases_of(StackConfig()),
            topic=topic,
            consumer=consumer,
            code=code,
            service=service,
            entries=entries,
            wait_s=wait,
        )
    )
    good = {"handled", "duplicate", "ignored", "published"}
    if as_json:
        typer.echo(json.dumps(results))
    elif not results:
        console.print("nothing matched")
    else:
        for r in results:
            colour = "green" if r["outcome"] in good else "red"
            console.print(f"{r['id']:<20} [{colour}]{r['outcome']}[/]")
    raise typer.Exit(0 if all(r["outcome"] in good for r in results) else 1)


app.add_typer(audit_app, name="audit")
app.command("replay")(replay)


if __name__ == "__main__":
    app()
