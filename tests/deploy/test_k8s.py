"""deploy/k8s: every overlay renders, every resource is valid offline, and the deployment
keeps the promises the README makes (probes, limits, non-root, one Kafka user and one
network policy per service, replicated topics, autoscaling within the partitions, no
secret values in git). No cluster and no stack needed."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from oms_cli.config import SERVICES
from oms_cli.services import CALLS
from oms_events.topics import AUDIT_ANCHORS
from oms_platform.access import ACCESS, acl_rules
from oms_platform.kafka_topics import catalogue
from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    ROOT,
    Doc,
    core_errors,
    custom_errors,
    errors,
    is_custom,
    named,
    of_kind,
    render,
)

DOCKERFILE = ROOT / "deploy" / "images" / "Dockerfile"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oms_k8s_generate", K8S / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GENERATE = generator()


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"oms_{service}.settings")
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, BaseSettings)
        and v.model_config.get("env_prefix") == f"OMS_{service.upper()}_"
    ]
    assert len(classes) == 1, classes
    return classes[0]


def container(doc: Doc) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


# ------------------------------------------------------------------- render and validate


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_service(overlay: str) -> None:
    docs = render(overlay)
    for service in SERVICES:
        for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget"):
            named(docs, kind, f"oms-{service}")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        {"dev": "oms-dev", "prod": "oms"}[overlay]
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_core_resource_is_valid(overlay: str) -> None:
    core = [d for d in render(overlay) if not is_custom(d)]
    assert len(core) > 30
    found = {f"{d['kind']}/{d['metadata']['name']}": core_errors(d) for d in core}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_matches_its_crd(overlay: str) -> None:
    custom = [d for d in render(overlay) if is_custom(d)]
    kinds = {d["kind"] for d in custom}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "Database"}
    found = {f"{d['kind']}/{d['metadata']['name']}": custom_errors(d) for d in custom}
    assert {k: v for k, v in found.items() if v} == {}


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return change


def _drop(path: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return change


BROKEN = {
    "deployment replicas not a number": (
        "Deployment",
        "oms-order",
        _set("spec/replicas", "two"),
    ),
    "deployment container with an unknown field": (
        "Deployment",
        "oms-order",
        _set("spec/template/spec/containers/0/readinessProbes", {}),
    ),
    "deployment without a selector": ("Deployment", "oms-order", _drop("spec/selector")),
    "autoscaler without its target": (
        "HorizontalPodAutoscaler",
        "oms-order",
        _drop("spec/scaleTargetRef"),
    ),
    "network policy port not a port": (
        "NetworkPolicy",
        "oms-order",
        _set("spec/ingress/0/ports/0/protocol", 6),
    ),
    "topic partitions not a number": (
        "KafkaTopic",
        "oms.order.events",
        _set("spec/partitions", "six"),
    ),
    "topic with an unknown field": (
        "KafkaTopic",
        "oms.order.events",
        _set("spec/replicationFactor", 3),
    ),
    "user ACL operation Kafka does not have": (
        "KafkaUser",
        "oms-order",
        _set("spec/authorization/acls/0/operations", ["Publish"]),
    ),
    "user ACL without its resource": (
        "KafkaUser",
        "oms-order",
        _drop("spec/authorization/acls/0/resource"),
    ),
    "node pool without roles": ("KafkaNodePool", "oms-dual-role", _drop("spec/roles")),
    "cluster without instances": ("Cluster", "oms-pg", _drop("spec/instances")),
    "cluster role with an unknown field": (
        "Cluster",
        "oms-pg",
        _set("spec/managed/roles/0/password", "literal"),
    ),
    "database without an owner": ("Database", "oms-order", _drop("spec/owner")),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_resource_is_reported(case: str) -> None:
    kind, name, change = BROKEN[case]
    doc = named(render("prod"), kind, name)
    assert errors(doc) == [], "the unbroken resource must be valid"
    broken = copy.deepcopy(doc)
    change(broken)
    assert errors(broken), f"{case}: not reported"


def test_a_custom_resource_of_an_unknown_version_is_reported() -> None:
    doc = named(render("prod"), "KafkaTopic", "oms.order.events")
    doc["apiVersion"] = "kafka.strimzi.io/v1beta1"
    assert "no CRD" in errors(doc)[0]


def test_generated_manifests_are_up_to_date() -> None:
    """Regenerating from the code's catalogues gives the committed files."""
    stale = [str(p.relative_to(K8S)) for p in GENERATE.stale()]
    assert stale == [], "run `uv run --no-sync python deploy/k8s/generate.py` and commit"


# ----------------------------------------------------------------------------- services


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_probed_limited_and_unprivileged(overlay: str) -> None:
    docs = render(overlay)
    deployments = of_kind(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {f"oms-{s}" for s in SERVICES}
    for doc in deployments:
        c = container(doc)
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        for bound in ("requests", "limits"):
            assert set(c["resources"][bound]) >= {"cpu", "memory"}, doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        name = doc["metadata"]["name"].removeprefix("oms-")
        assert c["command"] == ["python", "-m", f"oms_{name}"]
        # The probes, the Service and the scraper all reach the port the service listens on.
        config = named(docs, "ConfigMap", doc["metadata"]["name"])["data"]
        port = int(config[f"OMS_{name.upper()}_HTTP_PORT"])
        assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert c["readinessProbe"]["httpGet"]["port"] == "http"
        assert c["livenessProbe"]["httpGet"]["port"] == "http"
        svc = named(docs, "Service", doc["metadata"]["name"])["spec"]
        assert svc["ports"][0]["targetPort"] == "http"
        annotations = doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == str(port)
        assert c["image"].rpartition(":")[0].endswith(f"/oms-{name}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_a_service_gets_is_one_of_its_settings(service: str) -> None:
    """A misspelt variable would be ignored silently (``extra="ignore"``)."""
    docs = render("prod")
    prefix = f"OMS_{service.upper()}_"
    names = set(named(docs, "ConfigMap", f"oms-{service}")["data"])
    names |= {e["name"] for e in container(named(docs, "Deployment", f"oms-{service}"))["env"]}
    ours = {n for n in names if n.startswith("OMS_")}
    assert all(n.startswith(prefix) for n in ours), ours
    fields = set(settings_class(service).model_fields)
    assert {n for n in ours if n.removeprefix(prefix).lower() not in fields} == set()
    assert {f"{prefix}DATABASE_DSN", f"{prefix}KAFKA_USERNAME", f"{prefix}KAFKA_PASSWORD"} <= ours
    config = named(docs, "ConfigMap", f"oms-{service}")["data"]
    assert config[f"{prefix}HTTP_HOST"] == "0.0.0.0"


def test_services_reach_their_database_and_kafka_with_their_own_credentials() -> None:
    docs = render("prod")
    for service in SERVICES:
        env = {e["name"]: e for e in container(named(docs, "Deployment", f"oms-{service}"))["env"]}
        dsn = env[f"OMS_{service.upper()}_DATABASE_DSN"]["value"]
        assert dsn.startswith("postgresql://$(") and dsn.endswith(f"/oms_{service}?sslmode=require")
        assert "@oms-pg-rw:5432/" in dsn
        kafka = env[f"OMS_{service.upper()}_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
        # The Secret Strimzi's user operator makes for the KafkaUser of this name.
        named(docs, "KafkaUser", kafka["name"])
        config = named(docs, "ConfigMap", f"oms-{service}")["data"]
        assert config[f"OMS_{service.upper()}_KAFKA_USERNAME"] == kafka["name"]
        assert config[f"OMS_{service.upper()}_KAFKA_BOOTSTRAP"] == "oms-kafka-bootstrap:9092"
    assert named(docs, "Kafka", "oms")["spec"]["kafka"]["listeners"][0]["port"] == 9092


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_the_manifests(overlay: str) -> None:
    docs = render(overlay)
    assert of_kind(docs, "Secret") == []
    for doc in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        for env in container(doc)["env"]:
            if "value" in env:
                # Only the DSN, made of the role's Secret by reference.
                assert env["name"].endswith("_DATABASE_DSN"), env["name"]
                assert re.fullmatch(r"postgresql://\$\(\w+\):\$\(\w+\)@.*", env["value"])


def test_the_readme_names_every_secret_the_operator_creates() -> None:
    """Secrets referenced but not made by Strimzi (one per KafkaUser) are the operator's."""
    docs = render("prod")
    users = {d["metadata"]["name"] for d in of_kind(docs, "KafkaUser")}
    refs = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for doc in of_kind(docs, "Deployment") + of_kind(docs, "Job")
        for env in container(doc)["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    refs |= {
        r["passwordSecret"]["name"]
        for r in named(docs, "Cluster", "oms-pg")["spec"]["managed"]["roles"]
    }
    readme = (K8S / "README.md").read_text()
    assert {name for name in refs - users if f"`{name}`" not in readme} == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_disruption_budget(overlay: str) -> None:
    docs = render(overlay)
    for service in SERVICES:
        pdb = named(docs, "PodDisruptionBudget", f"oms-{service}")
        assert pdb["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": f"oms-{service}"
        }
        assert pdb["spec"]["maxUnavailable"] == 1


def test_prod_autoscales_within_the_partitions_and_not_the_single_replica_service() -> None:
    docs = render("prod")
    topics = of_kind(docs, "KafkaTopic")
    partitions = {t["metadata"]["name"]: t["spec"]["partitions"] for t in topics}
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    assert set(scaled) == {f"oms-{s}" for s in SERVICES if s not in GENERATE.SINGLE_REPLICA}
    assert "oms-inventory" not in scaled
    for service in SERVICES:
        if service in GENERATE.SINGLE_REPLICA:
            assert named(docs, "Deployment", f"oms-{service}")["spec"]["replicas"] == 1
            continue
        hpa = scaled[f"oms-{service}"]
        named(docs, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        fewest = min(partitions[t] for t in ACCESS[service].reads)
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= fewest


def test_dev_runs_one_replica_of_everything_without_autoscaling() -> None:
    docs = render("dev")
    assert of_kind(docs, "HorizontalPodAutoscaler") == []
    assert {d["spec"]["replicas"] for d in of_kind(docs, "Deployment")} == {1}
    assert named(docs, "Cluster", "oms-pg")["spec"]["instances"] == 1
    assert brokers(docs) == 1
    assert named(render("prod"), "Cluster", "oms-pg")["spec"]["instances"] == 3


# --------------------------------------------------------------------------------- Kafka


def brokers(docs: list[Doc]) -> int:
    pools = of_kind(docs, "KafkaNodePool")
    return sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_has_a_kafka_topic_no_broker_count_cannot_hold(overlay: str) -> None:
    docs = render(overlay)
    topics = {t["metadata"]["name"]: t["spec"] for t in of_kind(docs, "KafkaTopic")}
    assert set(topics) == {*catalogue(), AUDIT_ANCHORS}
    for name, spec in topics.items():
        insync = spec["config"]["min.insync.replicas"]
        assert 1 <= insync <= spec["replicas"] <= brokers(docs), name
    kafka = named(docs, "Kafka", "oms")["spec"]["kafka"]
    assert kafka["config"]["default.replication.factor"] <= brokers(docs)


def test_prod_topics_are_replicated_three_times_and_acknowledged_by_two() -> None:
    docs = render("prod")
    assert brokers(docs) == 3
    for topic in of_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3, topic["metadata"]["name"]
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, topic["metadata"]["name"]
    kafka = named(docs, "Kafka", "oms")["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2


def test_topic_retention_fits_replay_and_audit() -> None:
    topics = {t["metadata"]["name"]: t["spec"] for t in of_kind(render("prod"), "KafkaTopic")}
    anchors = topics.pop(AUDIT_ANCHORS)["config"]
    assert anchors["cleanup.policy"] == "compact" and anchors["retention.ms"] == -1
    for name, spec in topics.items():
        assert spec["config"]["cleanup.policy"] == "delete"
        assert spec["config"]["retention.ms"] >= 7 * 24 * 3600 * 1000, name
        assert spec["partitions"] == (1 if name.endswith(".dlq") else 6), name


def test_each_principal_has_a_scram_user_with_exactly_its_acls() -> None:
    docs = render("prod")
    users = {u["metadata"]["name"]: u["spec"] for u in of_kind(docs, "KafkaUser")}
    assert set(users) == {a.user for a in ACCESS.values()}
    assert {f"oms-{s}" for s in SERVICES} <= set(users)
    for access in ACCESS.values():
        spec = users[access.user]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        assert spec["authorization"]["type"] == "simple"
        granted = {
            (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], op)
            for a in spec["authorization"]["acls"]
            for op in a["operations"]
            if a["type"] == "allow"
        }
        pattern = {"literal": "literal", "prefixed": "prefix"}
        wanted = {
            (r.resource.value, r.name, pattern[r.pattern.value], r.operation.value)
            for r in acl_rules([access])
        }
        assert granted == wanted, access.user
    # The platform may write the ingress and nothing else.
    platform = users["oms-platform"]["authorization"]["acls"]
    assert [(a["resource"]["name"], a["operations"]) for a in platform] == [
        ("oms.platform.ingress", ["Write"])
    ]
    kafka = named(docs, "Kafka", "oms")["spec"]["kafka"]
    assert kafka["authorization"]["type"] == "simple"
    assert all(x["authentication"]["type"] == "scram-sha-512" for x in kafka["listeners"])


# ---------------------------------------------------------------------------- PostgreSQL


def test_each_service_has_its_role_and_database() -> None:
    docs = render("prod")
    cluster = named(docs, "Cluster", "oms-pg")["spec"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert set(roles) == {f"oms_{s}" for s in SERVICES}
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(docs, "Database")}
    assert set(databases) == set(roles)
    for name, spec in databases.items():
        assert spec["owner"] == name and spec["cluster"] == {"name": "oms-pg"}
        assert roles[name]["login"] is True
        assert roles[name]["passwordSecret"]["name"] == f"oms-pg-{name.removeprefix('oms_')}"
    hba = cluster["postgresql"]["pg_hba"]
    for role in roles:
        # Its own database over TLS, then nothing else.
        own = hba.index(f"hostssl {role} {role} all scram-sha-256")
        assert hba[own + 1] == f"host all {role} all reject"


# ------------------------------------------------------------------------------ network


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_default_deny_and_a_policy_per_service(overlay: str) -> None:
    docs = render(overlay)
    deny = named(docs, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for service in SERVICES:
        spec = named(docs, "NetworkPolicy", f"oms-{service}")["spec"]
        assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": f"oms-{service}"}
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        egress = [
            (peer.get("podSelector", {}).get("matchLabels"), port["port"])
            for rule in spec["egress"]
            for peer in rule["to"]
            for port in rule["ports"]
        ]
        assert egress == [
            ({"k8s-app": "kube-dns"}, 53),
            ({"k8s-app": "kube-dns"}, 53),
            ({"strimzi.io/cluster": "oms"}, 9092),
            ({"cnpg.io/cluster": "oms-pg"}, 5432),
            *(({"app.kubernetes.io/name": f"oms-{c}"}, 8080) for c in CALLS.get(service, ())),
        ]
        callers = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in spec["ingress"]
            for peer in rule["from"]
            if "podSelector" in peer
        }
        assert callers == {f"oms-{s}" for s, c in CALLS.items() if service in c}
    assert CALLS["operations"] == ("order", "returns", "payments")


# ---------------------------------------------------------------------------------- replay


def test_replay_job_rebuilds_from_every_store_when_started() -> None:
    docs = render("prod")
    job = named(docs, "Job", "oms-replay")
    assert job["spec"]["suspend"] is True
    c = container(job)
    assert c["command"] == ["oms"] and c["args"][:2] == ["replay", "all"]
    dbs = [c["args"][i + 1] for i, a in enumerate(c["args"]) if a == "--db"]
    assert dbs == [f"{s}=$(OMS_{s.upper()}_DATABASE_DSN)" for s in SERVICES]
    env = {e["name"] for e in c["env"]}
    assert {f"OMS_{s.upper()}_DATABASE_DSN" for s in SERVICES} <= env
    assert c["image"].rpartition(":")[0].endswith("/oms-tools")
    policy = named(docs, "NetworkPolicy", "oms-replay")["spec"]
    assert [r["to"][0]["podSelector"]["matchLabels"] for r in policy["egress"]] == [
        {"k8s-app": "kube-dns"},
        {"cnpg.io/cluster": "oms-pg"},
    ]


# ---------------------------------------------------------------------------------- images


def _stages(text: str) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(1)
            stages[current] = []
        elif current and line.strip() and not line.lstrip().startswith("#"):
            stages[current].append(line.strip())
    return stages


def test_dockerfile_has_a_non_root_target_per_service_installed_from_the_lock() -> None:
    stages = _stages(DOCKERFILE.read_text())
    for service, package in [*((s, f"oms-{s}") for s in SERVICES), ("tools", "oms-cli")]:
        final = stages[service]
        assert f"COPY --from=build-{service} /app/.venv /app/.venv" in final
        users = [line.split()[1] for line in final if line.startswith("USER ")]
        assert users and users[-1].split(":")[0] not in ("0", "root")
        build = stages[f"build-{service}"]
        assert build == [f"RUN uv sync --locked --no-dev --no-editable --package {package}"]
    for service in SERVICES:
        assert stages[service][-1] == f'ENTRYPOINT ["python", "-m", "oms_{service}"]'
    # Every service image the overlays use has a target.
    for overlay in OVERLAYS:
        for doc in of_kind(render(overlay), "Deployment") + of_kind(render(overlay), "Job"):
            target = container(doc)["image"].rpartition(":")[0].rpartition("/oms-")[2]
            assert target in stages, target


def test_dockerfile_copies_only_files_that_exist_and_every_workspace_member() -> None:
    text = DOCKERFILE.read_text()
    sources = [
        line.split()[1:-1]
        for line in text.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    paths = [p for group in sources for p in group]
    assert paths and all((ROOT / p).exists() for p in paths), paths
    members = re.search(r"members = \[(.*?)\]", (ROOT / "pyproject.toml").read_text())
    assert members is not None
    assert set(re.findall(r'"([^"]+)"', members.group(1))) <= set(paths)
    assert (ROOT / "uv.lock").is_file() and "uv.lock" in " ".join(paths)


def test_strimzi_crd_generation_is_documented_and_reproducible() -> None:
    """The CRDs are committed with their origin; the script and pom beside them redo them."""
    strimzi = K8S / "crds" / "strimzi"
    readme = (strimzi / "README.md").read_text()
    assert "io.strimzi:crd-generator:1.2.0" in readme and "Apache" in readme
    pom = (strimzi / "pom.xml").read_text()
    assert "<strimzi.version>1.2.0</strimzi.version>" in pom
    script = (strimzi / "generate-crds.sh").read_text()
    for name in ("kafka", "kafkatopic", "kafkauser", "kafkanodepool"):
        assert f'="$here/{name}.yaml"' in script
        assert (strimzi / f"{name}.yaml").is_file()
    cnpg = K8S / "crds" / "cloudnative-pg"
    assert "Apache License" in (cnpg / "LICENSE").read_text()
    assert "cloudnative-pg" in (cnpg / "README.md").read_text()
