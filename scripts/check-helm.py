#!/usr/bin/env python3
"""Checks of the Helm chart (helm/tfmirror) that need no cluster and no network.

Run through scripts/check-helm.sh, which provides helm-python-sdk (the Helm v4 SDK as a C
library: lint and offline rendering) and kubernetes-validate (bundled OpenAPI schemas).

* `helm lint` of the chart, with the default values and with every helm/examples/*.yaml;
* rendering with the default values, every example, inline secrets, and a few variants;
* every rendered manifest validated with `kubernetes-validate -k 1.30.0 --strict`, except
  the ServiceMonitor (a CRD: no bundled schema), which is checked against a structural
  schema of the fields the chart uses;
* every rendered configuration checked by the real binary: `tfmirror check-config --config
  FILE` with the environment the Deployment gives the container (secrets as dummies), so the
  chart is held to the server's one config schema; values the chart accepts but the server
  would refuse are shown to fail with check-config's message;
* the fields that matter asserted: probes, security contexts, secrets only through
  secretKeyRef, the HCL configuration, the Recreate strategy, the Ingress TLS host, the
  ServiceMonitor endpoint;
* values that must not render do not: replicaCount 2 (with its message) and others.

The binary is $TFM_BIN (scripts/check-helm.sh sets it, building it when needed).

Prints one line per check and `helm checks: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

import helm_python as helm
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "tfmirror"
EXAMPLES = sorted((ROOT / "helm" / "examples").glob("*.yaml"))
# Values that render but configure a server check-config refuses (each says what it expects).
REJECTED = sorted((ROOT / "helm" / "rejected").glob("*.yaml"))
KUBE_VERSION = "1.30.0"
RELEASE = "tfm"
NAMESPACE = "mirror"
VALIDATE_TIMEOUT_S = 300

# Environment variables whose values are secrets: only ever from a Secret.
SECRET_ENVS = {
    "TFM_JWT_SECRET",
    "TFM_S3_ACCESS_KEY_ID",
    "TFM_S3_SECRET_ACCESS_KEY",
    "TFM_ADMIN_PASSWORD",
    "TFM_METRICS_TOKEN",
    "TFM_OIDC_CLIENT_SECRET",
    "TFM_DATABASE_URL",
}
# Kinds without a schema in kubernetes-validate, checked structurally here instead.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
RUN_AS = 10001
REPLICA_MESSAGE = "with SQLite tfmirror must run as a single replica"
CHECK_CONFIG_TIMEOUT_S = 60
# What the Deployment's secretKeyRefs hold at run time, as dummies of a valid shape
# (the JWT secret needs 32 bytes; the S3 keys come as a pair).
SECRET_DUMMIES = {
    "TFM_JWT_SECRET": "check-helm-dummy-jwt-secret-0123456789abcdef",
    "TFM_S3_ACCESS_KEY_ID": "AKIACHECKHELMDUMMY00",
    "TFM_S3_SECRET_ACCESS_KEY": "check-helm-dummy-s3-secret-access-key",
    "TFM_ADMIN_PASSWORD": "check-helm-dummy-admin-password",
    "TFM_METRICS_TOKEN": "check-helm-dummy-metrics-token",
    "TFM_DATABASE_URL": "postgres://tfmirror:dummy@db.example:5432/tfmirror",
}


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, ok: bool, detail: Any = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}" + (f": {detail}" if detail != "" else ""))
        return ok

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        """Runs fn; an exception is one failed check (the others go on)."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            self.check(name, False, f"{type(e).__name__}: {e}")
            traceback.print_exc(limit=3)
            return None


R = Results()


# ---- rendering ------------------------------------------------------------------------------


def render(values: dict[str, Any]) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)


def manifests(rendered: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                out.append((template, doc))
    return out


def one(docs: list[tuple[str, dict]], kind: str) -> dict[str, Any] | None:
    found = [d for _, d in docs if d.get("kind") == kind]
    return found[0] if len(found) == 1 else None


def all_of(docs: list[tuple[str, dict]], kind: str) -> list[dict[str, Any]]:
    return [d for _, d in docs if d.get("kind") == kind]


def values_file(path: Path) -> dict[str, Any]:
    return helm.values_from_yaml(path.read_text())


# ---- the HCL configuration --------------------------------------------------------------


BLOCK_RE = re.compile(r'^([a-z_][a-z0-9_]*)\s*(?:"([^"]*)"\s*)?\{\s*(\})?$')
ATTR_RE = re.compile(r"^([a-z_][a-z0-9_]*)\s*=\s*(.*)$")


def parse_hcl(text: str) -> tuple[dict[str, Any], list[str]]:
    """The chart's rendered HCL (blocks, labels, `key = JSON value` lines) as a flat dict
    {"block.key": value, "upstream.HOST.key": value} plus parse errors."""
    flat: dict[str, Any] = {}
    errors: list[str] = []
    stack: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = BLOCK_RE.match(line)
        if m:
            name = m.group(1) + (f".{m.group(2)}" if m.group(2) is not None else "")
            flat.setdefault(".".join(stack + [name]), {})
            if not m.group(3):
                stack.append(name)
            continue
        if line == "}":
            if not stack:
                errors.append(f"line {n}: unbalanced }}")
            else:
                stack.pop()
            continue
        m = ATTR_RE.match(line)
        if not m:
            errors.append(f"line {n}: not HCL: {line!r}")
            continue
        try:
            flat[".".join(stack + [m.group(1)])] = json.loads(m.group(2))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: bad value {m.group(2)!r}: {e}")
    if stack:
        errors.append(f"unclosed blocks {stack}")
    return flat, errors


# ---- kubernetes-validate and the ServiceMonitor -----------------------------------------

DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SECRET_KEY_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key"],
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}, "optional": {"type": "boolean"}},
}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
# The fields of monitoring.coreos.com/v1 ServiceMonitor the chart renders, as in the
# Prometheus Operator's CRD (names, types, enums, duration pattern); anything else is an error.
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": LABELS,
                "annotations": LABELS,
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": LABELS, "matchExpressions": {"type": "array"}},
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "honorLabels": {"type": "boolean"},
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"type": "string"},
                                    "credentials": SECRET_KEY_SELECTOR,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|y|w|d|h|m|s)", duration))


def validate_manifests(label: str, docs: list[tuple[str, dict]]) -> None:
    with tempfile.TemporaryDirectory(prefix="tfmirror-helm-") as tmp:
        files = []
        for i, (template, doc) in enumerate(docs):
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key in CRD_KINDS:
                errors = sorted(
                    jsonschema.Draft7Validator(SERVICE_MONITOR_SCHEMA).iter_errors(doc), key=str
                )
                print(
                    f"  note  {label}: {doc['kind']} is a CRD kubernetes-validate has no schema "
                    "for; checked against the chart's structural ServiceMonitor schema"
                )
                R.check(
                    f"{label}: {doc['kind']} matches the structural schema",
                    not errors,
                    "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors),
                )
                continue
            path = Path(tmp) / f"{i:02d}-{Path(template).stem}-{doc.get('kind', 'unknown')}.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            files.append(str(path))
        cmd = [
            str(Path(sys.executable).parent / "kubernetes-validate"),
            "-k", KUBE_VERSION, "--strict", "--quiet", *files,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT_S)
        R.check(
            f"{label}: kubernetes-validate -k {KUBE_VERSION} --strict on {len(files)} manifests",
            proc.returncode == 0 and files != [],
            (proc.stdout + proc.stderr).strip(),
        )


# ---- assertions on a rendering ----------------------------------------------------------


def pod_containers(dep: dict) -> list[dict]:
    spec = dep["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def container(dep: dict, name: str) -> dict | None:
    return next((c for c in pod_containers(dep) if c["name"] == name), None)


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def check_common(label: str, rendered: dict[str, str], docs: list[tuple[str, dict]]) -> dict:
    """Assertions every rendering must pass. Returns the Deployment."""
    deps = all_of(docs, "Deployment")
    R.check(f"{label}: exactly one Deployment", len(deps) == 1, len(deps))
    dep = deps[0]
    pod = dep["spec"]["template"]["spec"]
    if dep["spec"].get("replicas") == 1:
        # One SQLite writer: the old pod stops before the new one opens the database.
        R.check(f"{label}: strategy Recreate", dep["spec"].get("strategy") == {"type": "Recreate"},
                dep["spec"].get("strategy"))
    else:
        R.check(f"{label}: several replicas only on PostgreSQL",
                "TFM_DATABASE_URL" in env_of(container(dep, "tfmirror")))

    main = container(dep, "tfmirror")
    R.check(f"{label}: container tfmirror runs `serve`", main is not None and main.get("args") == ["serve"])
    ports = {p["name"]: p["containerPort"] for p in main.get("ports", [])}
    R.check(f"{label}: container port http is 8080", ports == {"http": 8080}, ports)
    env = env_of(main)
    R.check(f"{label}: TFM_LISTEN binds the container port",
            env.get("TFM_LISTEN", {}).get("value") == "0.0.0.0:8080", env.get("TFM_LISTEN"))
    R.check(f"{label}: TFM_DATA_DIR is /data", env.get("TFM_DATA_DIR", {}).get("value") == "/data")

    def probe_ok(name: str, path: str) -> None:
        p = main.get(name) or {}
        get = p.get("httpGet", {})
        port = get.get("port")
        resolved = ports.get(port) if isinstance(port, str) else port
        R.check(f"{label}: {name} GET {path} on port 8080",
                get.get("path") == path and resolved == 8080 and get.get("scheme", "HTTP") == "HTTP", p)

    probe_ok("livenessProbe", "/healthz")
    probe_ok("readinessProbe", "/readyz")
    probe_ok("startupProbe", "/healthz")

    psc = pod.get("securityContext", {})
    R.check(f"{label}: pod securityContext (non-root {RUN_AS}, fsGroup, RuntimeDefault seccomp)",
            psc.get("runAsNonRoot") is True and psc.get("runAsUser") == RUN_AS
            and psc.get("fsGroup") == RUN_AS
            and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", psc)
    for c in pod_containers(dep):
        sc = c.get("securityContext", {})
        R.check(
            f"{label}: container {c['name']} securityContext locked down",
            sc.get("runAsNonRoot") is True and sc.get("runAsUser") == RUN_AS
            and sc.get("readOnlyRootFilesystem") is True
            and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]
            and not sc.get("capabilities", {}).get("add")
            and sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            sc,
        )
    R.check(f"{label}: no service account token mounted", pod.get("automountServiceAccountToken") is False)

    # Secrets: only valueFrom.secretKeyRef, never a literal value, in every container.
    for c in pod_containers(dep):
        for e in c.get("env", []):
            if e["name"] in SECRET_ENVS:
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                R.check(f"{label}: {c['name']} {e['name']} comes from a secretKeyRef",
                        "value" not in e and ref is not None and ref.get("name") and ref.get("key"), e)

    # Volumes: /data, a writable /tmp emptyDir (read-only root), the config read-only.
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod_containers(dep):
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        R.check(f"{label}: {c['name']} mounts /tmp from an emptyDir",
                "/tmp" in mounts and "emptyDir" in vols.get(mounts["/tmp"]["name"], {}))
        R.check(f"{label}: {c['name']} mounts /data", "/data" in mounts)
        cfg = env_of(c).get("TFM_CONFIG", {}).get("value", "")
        cfg_mount = mounts.get(str(Path(cfg).parent), {})
        R.check(f"{label}: {c['name']} TFM_CONFIG is in a read-only config mount",
                cfg_mount.get("readOnly") is True, cfg)

    # Service: port http -> the container's http port, selecting the pod's labels.
    svc = one(docs, "Service")
    R.check(f"{label}: one Service", svc is not None)
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    sel = svc["spec"]["selector"]
    R.check(f"{label}: Service selects the pod",
            all(pod_labels.get(k) == v for k, v in sel.items())
            and dep["spec"]["selector"]["matchLabels"] == sel)
    R.check(f"{label}: Service port http targets http",
            [(p["name"], p["targetPort"]) for p in svc["spec"]["ports"]] == [("http", "http")])

    # Names are valid DNS names.
    for _, d in docs:
        name = d["metadata"]["name"]
        limit = 63 if d["kind"] == "Service" else 253
        if not (len(name) <= limit and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name)):
            R.check(f"{label}: {d['kind']} name {name!r} is a valid DNS name", False)
    return dep


def container_env(c: dict) -> dict[str, str]:
    """The environment a container starts with: literal values as they are, values from a
    Secret (or anything else valueFrom names) as dummies. TFM_CONFIG is left out: the
    rendered file is passed as --config."""
    env: dict[str, str] = {}
    for e in c.get("env", []):
        name = e["name"]
        if name == "TFM_CONFIG":
            continue
        if "value" in e:
            env[name] = str(e["value"])
        elif "valueFrom" in e:
            env[name] = SECRET_DUMMIES.get(name, "check-helm-dummy")
    return env


def check_config(hcl: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`tfmirror check-config --config FILE` on the rendered HCL, with `env` and none of this
    process's TFM_* variables."""
    binary = os.environ.get("TFM_BIN")
    if not binary:
        raise RuntimeError("TFM_BIN is not set: run scripts/check-helm.sh, which builds the binary")
    with tempfile.TemporaryDirectory(prefix="tfmirror-helm-config-") as tmp:
        path = Path(tmp) / "tfmirror.hcl"
        path.write_text(hcl)
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
        return subprocess.run([binary, "check-config", "--config", str(path)],
                              env={**base, **env}, capture_output=True, text=True,
                              timeout=CHECK_CONFIG_TIMEOUT_S)


def check_hcl(label: str, docs: list[tuple[str, dict]], dep: dict) -> dict[str, Any]:
    """The ConfigMap's HCL: accepted by `tfmirror check-config` with the container's
    environment, and free of what belongs in a Secret or the environment. Returns the HCL's
    keys and values, flat."""
    cm = one(docs, "ConfigMap")
    R.check(f"{label}: one ConfigMap with tfmirror.hcl", cm is not None and "tfmirror.hcl" in cm["data"])
    hcl = cm["data"]["tfmirror.hcl"]
    flat, errors = parse_hcl(hcl)
    R.check(f"{label}: the HCL parses (blocks and JSON-literal values)", not errors, errors)
    env = container_env(container(dep, "tfmirror"))
    proc = check_config(hcl, env)
    R.check(f"{label}: `tfmirror check-config` accepts the rendered configuration",
            proc.returncode == 0,
            f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()}\n--- tfmirror.hcl ---\n{hcl}")
    if proc.returncode == 0:
        # The first line says it is valid; the rest is the effective configuration.
        effective = json.loads(proc.stdout.partition("\n")[2])
        seen = {"data_dir": effective.get("data_dir"),
                "listen": effective.get("server", {}).get("listen")}
        R.check(f"{label}: check-config sees the Deployment's data_dir and listen address",
                seen == {"data_dir": env.get("TFM_DATA_DIR"), "listen": env.get("TFM_LISTEN")}, seen)
    secrets_in_hcl = [p for p in flat if p.split(".")[-1] in
                      {"jwt_secret", "secret_access_key", "access_key_id", "token"}]
    R.check(f"{label}: no secret keys in the ConfigMap", not secrets_in_hcl, secrets_in_hcl)
    R.check(f"{label}: no data_dir/listen/log in the HCL (set by env)",
            not any(p in flat for p in ("data_dir", "server.listen", "log.level", "log.format")))
    return flat


def upstream(flat: dict[str, Any], host: str) -> dict[str, Any] | None:
    prefix = f"upstream.{host}"
    if prefix not in flat:
        return None
    return {k[len(prefix) + 1:]: v for k, v in flat.items() if k.startswith(prefix + ".")}


# ---- scenarios -----------------------------------------------------------------------------


def scenario_default() -> None:
    label = "default values"
    rendered = render({})
    docs = manifests(rendered)
    validate_manifests(label, docs)
    dep = check_common(label, rendered, docs)
    flat = check_hcl(label, docs, dep)
    for host in ("registry.terraform.io", "registry.opentofu.org"):
        R.check(f"{label}: upstream \"{host}\" block with pull_through = true",
                upstream(flat, host) == {"pull_through": True}, upstream(flat, host))
    R.check(f"{label}: worker block rendered", flat.get("worker.enabled") is True
            and flat.get("worker.concurrency") == 4)
    pvc = one(docs, "PersistentVolumeClaim")
    R.check(f"{label}: a ReadWriteOnce PVC for /data, kept on uninstall",
            pvc is not None and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
            and pvc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep")
    data = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    R.check(f"{label}: /data is the PVC", data.get("persistentVolumeClaim", {}).get("claimName")
            == pvc["metadata"]["name"])
    env = env_of(container(dep, "tfmirror"))
    R.check(f"{label}: local storage backend", env["TFM_STORAGE_BACKEND"].get("value") == "local")
    R.check(f"{label}: not offline, no public URL without an ingress",
            "TFM_OFFLINE" not in env and "TFM_PUBLIC_URL" not in env)
    R.check(f"{label}: no Secret, no secret env, no Ingress, no ServiceMonitor",
            not all_of(docs, "Secret") and not (SECRET_ENVS & set(env))
            and not all_of(docs, "Ingress") and not all_of(docs, "ServiceMonitor"))
    R.check(f"{label}: no admin-bootstrap init container",
            not dep["spec"]["template"]["spec"].get("initContainers"))
    R.check(f"{label}: NOTES give the port-forward hint and the client block",
            "port-forward service/tfm-tfmirror" in rendered["tfmirror/templates/NOTES.txt"]
            and "network_mirror" in rendered["tfmirror/templates/NOTES.txt"])
    R.check(f"{label}: NOTES say where the setup link of the first admin is",
            "grep /ui/setup" in rendered["tfmirror/templates/NOTES.txt"])


def scenario_example(path: Path) -> None:
    """Every example renders, validates and passes the common checks; s3-ingress.yaml is
    then checked in detail."""
    label = path.name
    values = values_file(path)
    rendered = render(values)
    docs = manifests(rendered)
    validate_manifests(label, docs)
    dep = check_common(label, rendered, docs)
    flat = check_hcl(label, docs, dep)
    if path.name == "s3-ingress.yaml":
        check_s3_ingress(label, values, rendered, docs, dep, flat)
    if path.name == "replicas-postgres.yaml":
        check_replicas(label, values, docs, dep)


def check_replicas(label: str, values: dict[str, Any], docs: list[tuple[str, dict]],
                   dep: dict) -> None:
    """Three replicas on PostgreSQL and S3: they roll without downtime, share the database
    through the Secret, keep no per-pod volume, and keep a disruption budget."""
    spec = dep["spec"]
    R.check(f"{label}: three replicas", spec["replicas"] == 3)
    R.check(f"{label}: a rolling update with none unavailable",
            spec["strategy"] == {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            spec["strategy"])
    env = env_of(container(dep, "tfmirror"))
    ref = env.get("TFM_DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
    R.check(f"{label}: TFM_DATABASE_URL from the chart's Secret, key database-url",
            ref.get("key") == "database-url" and not ref.get("optional"), env.get("TFM_DATABASE_URL"))
    secret = one(docs, "Secret")
    R.check(f"{label}: the Secret holds the URL, the ConfigMap does not",
            secret is not None and "database-url" in secret["data"]
            and "example-password" not in one(docs, "ConfigMap")["data"]["tfmirror.hcl"])
    R.check(f"{label}: no PersistentVolumeClaim: /data is scratch space",
            one(docs, "PersistentVolumeClaim") is None
            and next(v for v in spec["template"]["spec"]["volumes"] if v["name"] == "data")
            .get("emptyDir") is not None)
    pdb = one(docs, "PodDisruptionBudget")
    R.check(f"{label}: a PodDisruptionBudget keeps one replica",
            pdb is not None and pdb["spec"]["minAvailable"] == 1
            and pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"], pdb)
    R.check(f"{label}: replicas spread over nodes",
            spec["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"]
            == "kubernetes.io/hostname")


def check_s3_ingress(label: str, values: dict[str, Any], rendered: dict[str, str],
                     docs: list[tuple[str, dict]], dep: dict, flat: dict[str, Any]) -> None:
    secret = values["existingSecret"]

    main = container(dep, "tfmirror")
    env = env_of(main)
    s3 = values["storage"]["s3"]
    R.check(f"{label}: S3 backend and bucket through env",
            env["TFM_STORAGE_BACKEND"].get("value") == "s3"
            and env["TFM_S3_BUCKET"].get("value") == s3["bucket"]
            and env["TFM_S3_REGION"].get("value") == s3["region"])
    for name, key in [("TFM_S3_ACCESS_KEY_ID", "s3-access-key-id"),
                      ("TFM_S3_SECRET_ACCESS_KEY", "s3-secret-access-key"),
                      ("TFM_JWT_SECRET", "jwt-secret"), ("TFM_METRICS_TOKEN", "metrics-token")]:
        ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
        R.check(f"{label}: {name} from existingSecret key {key}",
                ref.get("name") == secret and ref.get("key") == key, env.get(name))
    R.check(f"{label}: no Secret rendered (existingSecret)", not all_of(docs, "Secret"))
    tls_host = values["ingress"]["tls"][0]["hosts"][0]
    R.check(f"{label}: the public URL is the ingress TLS host",
            env.get("TFM_PUBLIC_URL", {}).get("value") == f"https://{tls_host}/", env.get("TFM_PUBLIC_URL"))
    R.check(f"{label}: storage.s3 tuning in the HCL",
            flat.get("storage.s3.presign_ttl_seconds") == 300
            and flat.get("storage.s3.multipart_part_mib") == 16)

    tf = upstream(flat, "registry.terraform.io")
    want = values["upstreams"]["registry.terraform.io"]
    R.check(f"{label}: upstream \"registry.terraform.io\" carries the values",
            tf is not None and tf.get("pull_through") is True and tf.get("allow") == want["allow"]
            and tf.get("deny") == want["deny"] and tf.get("download_hosts") == want["downloadHosts"]
            and tf.get("min_release_age_hours") == 24, tf)
    R.check(f"{label}: upstream \"registry.opentofu.org\" removed by null",
            upstream(flat, "registry.opentofu.org") is None)
    R.check(f"{label}: config blocks from values",
            flat.get("worker.concurrency") == 8 and flat.get("limits.max_archive_bytes") == 1073741824)

    init = container(dep, "admin-bootstrap")
    R.check(f"{label}: admin-bootstrap init container runs create-admin",
            init is not None and "tfmirror create-admin --username" in " ".join(init.get("command", []))
            and "already exists" in " ".join(init.get("command", [])))
    ienv = env_of(init or {})
    ref = ienv.get("TFM_ADMIN_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
    R.check(f"{label}: admin password from existingSecret key admin-password",
            ref.get("name") == secret and ref.get("key") == "admin-password")
    R.check(f"{label}: admin user from values",
            ienv.get("TFM_ADMIN_USER", {}).get("value") == values["adminBootstrap"]["username"])

    ing = one(docs, "Ingress")
    host = values["ingress"]["hosts"][0]["host"]
    R.check(f"{label}: one Ingress", ing is not None)
    R.check(f"{label}: Ingress TLS covers {host}",
            any(host in t.get("hosts", []) and t.get("secretName") == "tfmirror-tls"
                for t in ing["spec"].get("tls", [])), ing["spec"].get("tls"))
    svc = one(docs, "Service")
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    R.check(f"{label}: Ingress rule {host} -> Service port http",
            ing["spec"]["rules"][0]["host"] == host and backend["name"] == svc["metadata"]["name"]
            and backend["port"] == {"name": "http"})
    R.check(f"{label}: Ingress class and body-size annotation",
            ing["spec"].get("ingressClassName") == "nginx"
            and "nginx.ingress.kubernetes.io/proxy-body-size" in ing["metadata"].get("annotations", {}))

    sm = one(docs, "ServiceMonitor")
    R.check(f"{label}: one ServiceMonitor", sm is not None)
    ep = sm["spec"]["endpoints"][0]
    svc_ports = [p["name"] for p in svc["spec"]["ports"]]
    R.check(f"{label}: ServiceMonitor scrapes /metrics on Service port http",
            ep.get("port") in svc_ports and ep.get("port") == "http" and ep.get("path") == "/metrics",
            ep)
    R.check(f"{label}: ServiceMonitor selects the Service",
            all(svc["metadata"]["labels"].get(k) == v
                for k, v in sm["spec"]["selector"]["matchLabels"].items())
            and sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]})
    R.check(f"{label}: ServiceMonitor sends the bearer token from the Secret",
            ep.get("authorization") == {"type": "Bearer",
                                        "credentials": {"name": secret, "key": "metrics-token"}}, ep)
    R.check(f"{label}: scrapeTimeout <= interval",
            seconds(ep["scrapeTimeout"]) <= seconds(ep["interval"]))
    R.check(f"{label}: ServiceMonitor carries the extra labels",
            sm["metadata"]["labels"].get("release") == "kube-prometheus-stack")
    notes = rendered["tfmirror/templates/NOTES.txt"]
    R.check(f"{label}: NOTES print the client block for https://{host}/",
            f'url = "https://{host}/"' in notes and "provider_installation" in notes
            and "WARNING" not in notes, notes)


def scenario_inline_secrets() -> None:
    label = "inline secrets"
    sentinels = {
        "jwt-secret": "jwt-sentinel-0123456789abcdef0123456789abcdef",
        "s3-access-key-id": "AKIASENTINEL0000",
        "s3-secret-access-key": "s3-secret-sentinel-value",
        "admin-password": "admin-sentinel-password",
        "metrics-token": "metrics-sentinel-token",
    }
    values = {
        "auth": {"jwtSecret": sentinels["jwt-secret"]},
        "storage": {"backend": "s3", "s3": {
            "bucket": "b", "endpoint": "http://minio:9000", "pathStyle": True,
            "accessKeyId": sentinels["s3-access-key-id"],
            "secretAccessKey": sentinels["s3-secret-access-key"]}},
        "adminBootstrap": {"enabled": True, "password": sentinels["admin-password"]},
        "metrics": {"token": sentinels["metrics-token"], "serviceMonitor": {"enabled": True}},
        "ingress": {"enabled": True},
    }
    rendered = render(values)
    docs = manifests(rendered)
    validate_manifests(label, docs)
    dep = check_common(label, rendered, docs)
    check_hcl(label, docs, dep)
    secret = one(docs, "Secret")
    R.check(f"{label}: the chart renders one Secret", secret is not None)
    decoded = {k: base64.b64decode(v).decode() for k, v in (secret or {}).get("data", {}).items()}
    R.check(f"{label}: the Secret holds exactly the five keys", decoded == sentinels, sorted(decoded))
    leaks = [
        (t, k) for t, text in rendered.items() if not t.endswith("secret.yaml")
        for k, s in sentinels.items() if s in text or base64.b64encode(s.encode()).decode() in text
    ]
    R.check(f"{label}: no secret value appears outside the Secret", not leaks, leaks)
    for c in pod_containers(dep):
        for e in c.get("env", []):
            if e["name"] in SECRET_ENVS:
                ref = e["valueFrom"]["secretKeyRef"]
                R.check(f"{label}: {c['name']} {e['name']} refers to the chart Secret, not optional",
                        ref["name"] == secret["metadata"]["name"] and "optional" not in ref)
    env = env_of(container(dep, "tfmirror"))
    R.check(f"{label}: S3 endpoint and path style through env",
            env["TFM_S3_ENDPOINT"].get("value") == "http://minio:9000"
            and env["TFM_S3_PATH_STYLE"].get("value") == "true")
    R.check(f"{label}: pod restarts when the Secret changes",
            "checksum/secret" in dep["spec"]["template"]["metadata"]["annotations"])
    notes = rendered["tfmirror/templates/NOTES.txt"]
    R.check(f"{label}: NOTES warn about an Ingress without TLS", "WARNING" in notes)


def scenario_variants() -> None:
    rendered = render({"persistence": {"enabled": False}})
    docs = manifests(rendered)
    dep = one(docs, "Deployment")
    data = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    R.check("persistence disabled: /data is an emptyDir and no PVC",
            "emptyDir" in data and not all_of(docs, "PersistentVolumeClaim"))
    R.check("persistence disabled: NOTES warn",
            "persistence is disabled" in rendered["tfmirror/templates/NOTES.txt"])

    docs = manifests(render({"persistence": {"existingClaim": "mine"}}))
    dep = one(docs, "Deployment")
    data = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    R.check("existingClaim: used, no PVC rendered",
            data.get("persistentVolumeClaim", {}).get("claimName") == "mine"
            and not all_of(docs, "PersistentVolumeClaim"))

    docs = manifests(render({"config": {"existingSecret": "my-config"}}))
    dep = one(docs, "Deployment")
    cfg = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    R.check("config.existingSecret: the file comes from that Secret, no ConfigMap",
            cfg.get("secret", {}).get("secretName") == "my-config" and not all_of(docs, "ConfigMap"))

    docs = manifests(render({"offline": True}))
    env = env_of(container(one(docs, "Deployment"), "tfmirror"))
    R.check("offline: TFM_OFFLINE=true", env.get("TFM_OFFLINE", {}).get("value") == "true")
    flat = check_hcl("offline", docs, one(docs, "Deployment"))

    values = {"config": {"server": {"publicUrl": "https://tf.example.org/"}},
              "ingress": {"enabled": True, "tls": [{"secretName": "t", "hosts": ["in.example.org"]}]}}
    docs = manifests(render(values))
    env = env_of(container(one(docs, "Deployment"), "tfmirror"))
    flat = check_hcl("explicit publicUrl", docs, one(docs, "Deployment"))
    R.check("explicit config.server.publicUrl wins over the ingress host",
            "TFM_PUBLIC_URL" not in env and flat.get("server.public_url") == "https://tf.example.org/",
            (env.get("TFM_PUBLIC_URL"), flat.get("server.public_url")))

    values = {"oidc": {"enabled": True, "issuer": "https://login.example.com/realms/main",
                       "clientId": "tfmirror", "clientSecret": "check-helm-oidc-secret",
                       "adminGroups": ["ops"], "viewerGroups": ["dev", "qa"]},
              "config": {"auth": {"sessionMinutes": 30}}}
    rendered = render(values)
    docs = manifests(rendered)
    dep = one(docs, "Deployment")
    flat = check_hcl("oidc", docs, dep)
    R.check("oidc: an auth.oidc block beside the other auth keys",
            flat.get("auth.oidc.issuer") == values["oidc"]["issuer"]
            and flat.get("auth.oidc.client_id") == "tfmirror"
            and flat.get("auth.oidc.viewer_groups") == ["dev", "qa"]
            and flat.get("auth.session_minutes") == 30, flat)
    R.check("oidc: the client secret is not in the ConfigMap",
            "check-helm-oidc-secret" not in json.dumps(flat)
            and not any(k.endswith("client_secret") for k in flat))
    env = env_of(container(dep, "tfmirror"))
    ref = env.get("TFM_OIDC_CLIENT_SECRET", {}).get("valueFrom", {}).get("secretKeyRef", {})
    secret = one(docs, "Secret")
    R.check("oidc: TFM_OIDC_CLIENT_SECRET from the chart's Secret key oidc-client-secret",
            ref.get("key") == "oidc-client-secret" and secret is not None
            and "oidc-client-secret" in secret.get("data", {}), env.get("TFM_OIDC_CLIENT_SECRET"))

    docs = manifests(render({"replicaCount": 0}))
    R.check("replicaCount 0 renders (scaled down)", one(docs, "Deployment")["spec"]["replicas"] == 0)


def scenario_every_key() -> None:
    """Sets every config and upstream key values.schema.json allows, so that each camelCase
    name is rendered once and accepted by `tfmirror check-config`."""
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]

    def sample(prop: dict[str, Any]) -> Any:
        if "enum" in prop:
            return prop["enum"][-1]
        t = prop.get("type")
        if t == "integer":
            return max(prop.get("minimum", 0), 7)
        if t == "boolean":
            return True
        if t == "array":
            return ["hashicorp/null"]
        return "https://example.com" if prop.get("pattern", "").startswith("^https?") else "x"

    config = {
        block: {k: sample(p) for k, p in spec["properties"].items()}
        for block, spec in schema["config"]["properties"].items()
        if spec.get("type") == "object"
    }
    up = schema["upstreams"]["additionalProperties"]["oneOf"][0]["properties"]
    values = {"config": config,
              "upstreams": {"registry.example.com": {k: sample(p) for k, p in up.items()},
                            "registry.terraform.io": None, "registry.opentofu.org": None}}
    label = "every config key"
    docs = manifests(render(values))
    flat = check_hcl(label, docs, one(docs, "Deployment"))
    expected = sum(len(b) for b in config.values()) + len(up)
    rendered_keys = [k for k, v in flat.items() if not isinstance(v, dict)]
    R.check(f"{label}: all {expected} keys rendered", len(rendered_keys) == expected,
            sorted(rendered_keys))


def expect_failure(label: str, values: dict[str, Any], message: str) -> None:
    try:
        render(values)
    except helm.HelmError as e:
        R.check(f"{label} fails rendering with {message!r}", message in str(e), str(e))
        return
    R.check(f"{label} fails rendering", False, "it rendered")


def scenario_failures() -> None:
    expect_failure("oidc without an issuer", {"oidc": {"enabled": True, "clientId": "x"}},
                   "oidc.enabled needs oidc.issuer and oidc.clientId")
    expect_failure("replicaCount: 2", {"replicaCount": 2}, REPLICA_MESSAGE)
    expect_failure("replicaCount: 3", {"replicaCount": 3}, REPLICA_MESSAGE)
    expect_failure("three replicas on SQLite with S3",
                   {"replicaCount": 3, "storage": {"backend": "s3", "s3": {"bucket": "b"}}},
                   REPLICA_MESSAGE)
    expect_failure("three replicas on PostgreSQL with local storage",
                   {"replicaCount": 3, "database": {"url": "postgres://u:p@db:5432/t"}},
                   "several replicas need storage.backend s3")
    expect_failure("database.fromExistingSecret without existingSecret",
                   {"database": {"fromExistingSecret": True}}, "needs existingSecret")
    expect_failure("a database URL that is not PostgreSQL", {"database": {"url": "mysql://x"}},
                   "database")
    expect_failure("s3 without a bucket", {"storage": {"backend": "s3"}}, "storage.s3.bucket is required")
    expect_failure("short jwtSecret", {"auth": {"jwtSecret": "short"}}, "at least 32 bytes")
    expect_failure("short admin password",
                   {"adminBootstrap": {"enabled": True, "password": "short"}}, "at least 12 characters")
    expect_failure("existingSecret plus inline secrets",
                   {"existingSecret": "s", "auth": {"jwtSecret": "x" * 40}}, "existingSecret is set")
    expect_failure("one S3 key without the other",
                   {"storage": {"backend": "s3", "s3": {"bucket": "b", "accessKeyId": "AKIA"}}},
                   "must be set together")
    expect_failure("a misspelt config key", {"config": {"worker": {"maxAtempts": 3}}}, "maxAtempts")
    expect_failure("a misspelt top-level key", {"replicas": 2}, "replicas")
    expect_failure("a bad log format", {"log": {"format": "xml"}}, "log/format")


def scenario_rejected(path: Path) -> None:
    """A values file that renders, but into a configuration the server refuses: check-config
    must exit 2 with the message its `# expect:` line gives."""
    label = f"rejected/{path.name}"
    expect = re.search(r"^# expect: (.+)$", path.read_text(), re.MULTILINE)
    if not R.check(f"{label}: has an `# expect: MESSAGE` line", expect is not None):
        return
    message = expect.group(1).strip()
    docs = manifests(render(values_file(path)))
    hcl = one(docs, "ConfigMap")["data"]["tfmirror.hcl"]
    proc = check_config(hcl, container_env(container(one(docs, "Deployment"), "tfmirror")))
    R.check(f"{label}: check-config refuses it with {message!r}",
            proc.returncode == 2 and message in proc.stderr,
            f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")


def lint() -> None:
    for label, values in [("default values", None)] + [(p.name, values_file(p)) for p in EXAMPLES]:
        report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSION}")
        problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        R.check(f"helm lint --strict ({label})", not report.get("errors") and not problems,
                report.get("errors") or problems)


def main() -> int:
    print(f"helm SDK {helm.helm_sdk_version()}, chart {CHART.relative_to(ROOT)}, "
          f"Kubernetes schemas {KUBE_VERSION}")
    binary = os.environ.get("TFM_BIN", "")
    R.check(f"TFM_BIN is an executable tfmirror ({binary or 'unset'})",
            bool(binary) and os.access(binary, os.X_OK))
    R.check("helm/examples/s3-ingress.yaml exists",
            any(p.name == "s3-ingress.yaml" for p in EXAMPLES))
    print("== helm lint")
    R.run("helm lint", lint)
    print("== default values")
    R.run("default values", scenario_default)
    for path in EXAMPLES:
        print(f"== {path.relative_to(ROOT)}")
        R.run(path.name, lambda path=path: scenario_example(path))
    print("== inline secrets")
    R.run("inline secrets", scenario_inline_secrets)
    print("== every config key")
    R.run("every config key", scenario_every_key)
    print("== variants")
    R.run("variants", scenario_variants)
    R.check("helm/rejected/ has values files", REJECTED != [])
    for path in REJECTED:
        print(f"== {path.relative_to(ROOT)}")
        R.run(path.name, lambda path=path: scenario_rejected(path))
    print("== values that must not render")
    R.run("failures", scenario_failures)
    print(f"helm checks: {R.passed} passed, {len(R.failed)} failed")
    for name in R.failed:
        print(f"  failed: {name}")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
