"""``docs/asyncapi.json``: generated from the contracts and the services' real consumers,
committed as generated, and valid for the AsyncAPI Initiative's own parser.

The parser is npm ``@asyncapi/parser`` 3.x (``tools/asyncapi``, installed by ``make deps``)
run with node: an implementation independent of FastStream, which wrote the document.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from oms_cli import asyncapi
from oms_events.registry import registry
from oms_events.topics import ALL_TOPICS, PLATFORM_INGRESS, TOPIC_BY_EVENT_TYPE, dlq

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.json"
VALIDATOR = ROOT / "tools" / "asyncapi"


@pytest.fixture(scope="module")
def fresh() -> str:
    return asyncapi.generate()


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return found


def validate(path: Path) -> tuple[int, dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is not installed (apt-get install nodejs npm)"
    parser = VALIDATOR / "node_modules" / "@asyncapi" / "parser" / "package.json"
    assert parser.exists(), f"the AsyncAPI parser is not installed in {VALIDATOR}: run `make deps`"
    done = subprocess.run(
        [node, str(VALIDATOR / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, result


def test_the_committed_document_is_what_the_code_generates(fresh: str) -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")
    assert committed == fresh, (
        "docs/asyncapi.json is out of date: run `uv run --no-sync python -m oms_cli.asyncapi "
        "export` and commit it"
    )


def test_generating_twice_gives_the_same_text(fresh: str) -> None:
    assert asyncapi.generate() == fresh


def test_every_topic_and_its_dead_letter_twin_is_a_channel(doc: dict[str, Any]) -> None:
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {*ALL_TOPICS, *(dlq(t) for t in ALL_TOPICS)}
    for topic in ALL_TOPICS:
        assert doc["operations"][topic]["action"] == "send"
        assert doc["operations"][dlq(topic)]["action"] == "send"
    assert "sales platforms" in doc["channels"][PLATFORM_INGRESS]["description"]
    assert "the order service" in doc["channels"]["oms.order.events"]["description"]


def test_every_version_of_every_event_type_has_its_envelope_schema(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for type_name in TOPIC_BY_EVENT_TYPE:
        for version in registry.versions(type_name):
            message = schemas[f"{type_name}V{version}Message"]
            assert message["properties"]["type"]["const"] == type_name
            assert message["properties"]["version"]["const"] == version
            assert "payload" in message["required"] and "event_id" in message["required"]
            contract = registry.get(type_name, version)
            assert message["description"].split("\n")[0] in (contract.__doc__ or "")
    submitted = schemas[f"{PLATFORM_INGRESS}:Message:Payload"]["anyOf"]
    assert [s["$ref"].rsplit("/", 1)[1] for s in submitted] == [
        f"OrderSubmittedV{v}Message" for v in registry.versions("OrderSubmitted")
    ]


def test_every_consumer_group_reads_its_topics_with_the_types_it_handles(
    doc: dict[str, Any],
) -> None:
    readers = asyncapi.subscribers()
    receive = {k: v for k, v in doc["operations"].items() if v["action"] == "receive"}
    assert set(receive) == {f"{r.group}:{r.topic}" for r in readers}
    intake = next(r for r in readers if r.group == "order.intake")
    assert intake.topic == PLATFORM_INGRESS and intake.types == ("OrderSubmitted",)
    # Inventory's order consumer takes exactly its two types from the order topic.
    payload = doc["components"]["schemas"]["inventory.orders:oms.order.events:Message:Payload"]
    refs = {s["$ref"].rsplit("/", 1)[1] for s in payload["anyOf"]}
    assert refs == {"OrderCancelledV1Message", "OrderPlacedV1Message"}


def test_the_asyncapi_parser_finds_no_error_in_it() -> None:
    code, result = validate(DOCUMENT)
    assert result["errors"] == [] and result["valid"] is True, result
    assert code == 0
    assert result["version"] == "3.0.0"
    assert result["channels"] == 2 * len(ALL_TOPICS) + len(asyncapi.subscribers())


def _broken(doc: dict[str, Any], how: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    if how == "missing message":
        channel = copy["channels"]["oms.order.events"]
        channel["messages"]["Message"]["$ref"] = "#/components/messages/NoSuchMessage"
    elif how == "operation without channel":
        del copy["channels"]["oms.payments.events"]
    elif how == "unknown field":
        copy["channels"]["oms.inventory.events"]["partitions"] = 6
    return copy


@pytest.mark.parametrize("how", ["missing message", "operation without channel", "unknown field"])
def test_a_broken_copy_is_reported_invalid(doc: dict[str, Any], tmp_path: Path, how: str) -> None:
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(_broken(doc, how)), encoding="utf-8")
    code, result = validate(broken)
    assert code == 1 and result["valid"] is False
    assert result["errors"], result
