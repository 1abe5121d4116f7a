"""deploy/k8s, checked offline: it renders, every object is valid for a pinned Kubernetes
(or for the schema kept in deploy/k8s/schemas for the operators' kinds), and it gives the
services what the code reads: the right command, probes on the right port, settings that
exist and parse, the config files as they are, and room in the database for every pod.

Both the base and the production overlay are checked. Rendering uses ``kubectl
kustomize`` when kubectl is installed, else the small renderer in tests/support/kustomize.py
(which is compared with kubectl's output where both exist).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet

from services.escalation.policy import EscalationPolicy
from services.notifier.deps import NotifierSettings
from shared.db.engine import make_engine
from shared.messaging.topology import QueueSpec, declare_queue
from shared.settings import Settings
from tests.support.kustomize import (
    Obj,
    containers,
    pod_specs,
    read_env_file,
    render,
    render_lite,
    strip_hashes,
)

K8S_VERSION = "1.32.0"
ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
LAYERS = ("base", "overlays/production")
GENERATED = {"shaobao-settings", "shaobao-rules", "shaobao-calendar"}
PORTS = {"intake": 8001, "router": 8002, "escalation": 8003, "notifier": 8004}
SECRET_TEMPLATE = K8S / "secrets" / "shaobao-secrets.example.yaml"
CRD_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster.rabbitmq.com-v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster.postgresql.cnpg.io-v1.json",
}
REQUIRED_ENV = {
    "SHAOBAO_DATABASE_URL",
    "SHAOBAO_AMQP_URL",
    "SHAOBAO_PII_KEY",
    "SHAOBAO_PSEUDONYM_KEY",
    "SHAOBAO_KEY_PEPPER",
}
SAFETY_CONNECTIONS = 20  # superuser reserve, the operator's own, migrations, a psql


@pytest.fixture(scope="module", params=LAYERS)
def objs(request: pytest.FixtureRequest) -> list[Obj]:
    return strip_hashes(render(K8S / request.param), GENERATED)


def of_kind(objs: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def one(objs: list[Obj], kind: str) -> Obj:
    (found,) = of_kind(objs, kind).values()
    return found


def settings_env(objs: list[Obj]) -> dict[str, str]:
    return dict(of_kind(objs, "ConfigMap")["shaobao-settings"]["data"])


def secret_template() -> Obj:
    return dict(yaml.safe_load(SECRET_TEMPLATE.read_text()))


def known_setting_names() -> set[str]:
    """Every SHAOBAO_* name the code reads: the three settings classes and the names the
    console reads from the environment directly."""
    names = {f"SHAOBAO_{f.upper()}" for f in Settings.model_fields}
    names |= {f"SHAOBAO_NOTIFIER_{f.upper()}" for f in NotifierSettings.model_fields}
    names |= {f"SHAOBAO_ESCALATION_{f.upper()}" for f in EscalationPolicy.model_fields}
    read_directly = re.compile(r"""env(?:iron)?\.get\(\s*["'](SHAOBAO_[A-Z0-9_]+)["']""")
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]:
        names |= set(read_directly.findall(path.read_text()))
    return names


def quantity(value: str | int) -> float:
    """A Kubernetes or RabbitMQ amount in bytes (or cores): 2Gi, 512Mi, 1200MB, 250m."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "KB": 1e3, "MB": 1e6, "GB": 1e9, "m": 1e-3}
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert m, value
    return float(m[1]) * units.get(m[2], 1)


# -- valid objects ------------------------------------------------------------------------


def test_every_object_is_valid_for_kubernetes_or_its_operator(objs: list[Obj]) -> None:
    problems = []
    for o in objs:
        schema_file = CRD_SCHEMAS.get((o["apiVersion"], o["kind"]))
        try:
            if schema_file:
                schema = json.loads((K8S / "schemas" / schema_file).read_text())
                jsonschema.Draft202012Validator(schema).validate(o)
            else:
                kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{o['kind']} {o['metadata']['name']}: {exc}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{o['kind']} {o['metadata']['name']}: no schema, not validated")
    assert problems == []


def test_a_typo_in_an_operator_object_is_caught() -> None:
    schema = json.loads(
        (K8S / "schemas" / CRD_SCHEMAS[("rabbitmq.com/v1beta1", "RabbitmqCluster")]).read_text()
    )
    cluster = one(render_lite(K8S / "base"), "RabbitmqCluster")
    cluster["spec"]["rabbitmq"]["additonalConfig"] = cluster["spec"]["rabbitmq"].pop(
        "additionalConfig"
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(cluster)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("layer", LAYERS)
def test_the_lite_renderer_renders_what_kubectl_renders(layer: str) -> None:
    def keyed(objs: list[Obj]) -> dict[tuple[str, str], Obj]:
        return {(o["kind"], o["metadata"]["name"]): o for o in objs}

    kubectl = keyed(strip_hashes(render(K8S / layer), GENERATED))
    assert keyed(render_lite(K8S / layer)) == kubectl


# -- the services -------------------------------------------------------------------------


def test_each_service_starts_as_compose_starts_it_with_probes_on_its_port(
    objs: list[Obj],
) -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"]
    deployments = of_kind(objs, "Deployment")
    assert set(deployments) == set(PORTS)
    for name, port in PORTS.items():
        spec = pod_specs(deployments[name])[0]
        (main,) = [c for c in spec["containers"] if c["name"] == name]
        started = compose[name]["command"]
        assert main["command"][: len(started)] == started, name
        assert main["ports"] == [{"name": "http", "containerPort": port}]
        for probe, path in [
            ("readinessProbe", "/readyz"),
            ("livenessProbe", "/healthz"),
            ("startupProbe", "/healthz"),
        ]:
            assert main[probe]["httpGet"] == {"path": path, "port": "http"}, (name, probe)
        assert [c["command"] for c in spec["initContainers"]] == [["shaobao", "migrate"]]
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)


def test_every_container_has_requests_limits_and_one_image(objs: list[Obj]) -> None:
    workloads = [*of_kind(objs, "Deployment").values(), *of_kind(objs, "Job").values()]
    images = {c["image"] for w in workloads for c in containers(w)}
    assert len(images) == 1, images
    for w in workloads:
        for c in containers(w):
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), (c["name"], part)
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_every_service_has_a_service_an_autoscaler_and_a_disruption_budget(
    objs: list[Obj],
) -> None:
    services, hpas, pdbs = (
        of_kind(objs, k) for k in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")
    )
    for name, port in PORTS.items():
        pod_labels = of_kind(objs, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= pod_labels.items()
        assert services[name]["spec"]["ports"] == [
            {"name": "http", "port": port, "targetPort": "http"}
        ]
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["minReplicas"] >= 2, "one replica is no replica set"
        assert any(m["resource"]["name"] == "cpu" for m in hpa["metrics"])
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert pdbs[name]["spec"]["minAvailable"] < hpa["minReplicas"]
        assert "replicas" not in of_kind(objs, "Deployment")[name]["spec"], "the HPA owns it"


# -- settings -----------------------------------------------------------------------------


def _env_names(c: Obj) -> list[str]:
    return [e["name"] for e in c.get("env", [])]


def test_every_setting_named_is_one_the_code_reads(objs: list[Obj]) -> None:
    known = known_setting_names()
    named = set(settings_env(objs)) | set(secret_template()["stringData"])
    for w in [*of_kind(objs, "Deployment").values(), *of_kind(objs, "Job").values()]:
        for c in containers(w):
            env = c.get("env", [])
            named |= {n for n in _env_names(c) if n.startswith("SHAOBAO_")}
            for i, e in enumerate(env):
                for ref in re.findall(r"\$\((\w+)\)", e.get("value", "")):
                    assert ref in _env_names(c)[:i], f"{c['name']}: $({ref}) not defined before"
            helpers = {n for n in _env_names(c) if not n.startswith("SHAOBAO_")}
            used = {r for e in env for r in re.findall(r"\$\((\w+)\)", e.get("value", ""))}
            assert helpers <= used, f"{c['name']}: helper variables nobody uses {helpers - used}"
    assert named - known == set(), "settings no code reads (a typo?)"


def test_every_container_gets_the_database_broker_and_keys(objs: list[Obj]) -> None:
    from_maps = set(settings_env(objs)) | set(secret_template()["stringData"])
    for w in of_kind(objs, "Deployment").values():
        for c in containers(w):
            sources = {
                r.get("configMapRef", r.get("secretRef", {})).get("name") for r in c["envFrom"]
            }
            assert sources == {"shaobao-settings", "shaobao-secrets"}
            assert REQUIRED_ENV <= from_maps | set(_env_names(c)), c["name"]
    (job,) = of_kind(objs, "Job").values()
    assert "SHAOBAO_DATABASE_URL" in _env_names(containers(job)[0])


def test_the_settings_given_parse_as_production_settings(
    objs: list[Obj], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the pods get (ConfigMap, composed URLs, a real-looking Secret) is accepted
    by the settings classes, production checks included."""
    values = settings_env(objs) | {
        "SHAOBAO_DATABASE_URL": "postgresql+asyncpg://u:p@shaobao-pg-rw:5432/shaobao",
        "SHAOBAO_AMQP_URL": "amqp://u:p@shaobao-mq:5672/",
        "SHAOBAO_PII_KEY": Fernet.generate_key().decode(),
        "SHAOBAO_PSEUDONYM_KEY": "k" * 48,
        "SHAOBAO_KEY_PEPPER": "p" * 48,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.environment == "production" and not settings.test_clock
    NotifierSettings()
    EscalationPolicy()


# -- references and config files ----------------------------------------------------------


def test_references_name_objects_that_exist(objs: list[Obj]) -> None:
    pg, mq = one(objs, "Cluster"), one(objs, "RabbitmqCluster")
    operator_secrets = {f"{pg['metadata']['name']}-app", f"{mq['metadata']['name']}-default-user"}
    config_maps = set(of_kind(objs, "ConfigMap"))
    secrets = {secret_template()["metadata"]["name"]} | operator_secrets
    for w in [*of_kind(objs, "Deployment").values(), *of_kind(objs, "Job").values()]:
        for spec in pod_specs(w):
            for v in spec.get("volumes", []):
                assert "configMap" not in v or v["configMap"]["name"] in config_maps
        for c in containers(w):
            for r in c["envFrom"]:
                assert r.get("configMapRef", {}).get("name", "shaobao-settings") in config_maps
                assert r.get("secretRef", {}).get("name", "shaobao-secrets") in secrets
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in operator_secrets and ref["key"] in {
                        "username",
                        "password",
                    }
            urls = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            if "SHAOBAO_DATABASE_URL" in urls:
                assert f"@{pg['metadata']['name']}-rw:5432/" in urls["SHAOBAO_DATABASE_URL"]
            if "SHAOBAO_AMQP_URL" in urls:
                assert f"@{mq['metadata']['name']}:5672/" in urls["SHAOBAO_AMQP_URL"]
    env = settings_env(objs)
    assert env["SHAOBAO_MQ_MANAGEMENT_URL"] == f"http://{mq['metadata']['name']}:15672"
    for key, service in [
        ("SHAOBAO_CONSOLE_INTAKE_URL", "intake"),
        ("SHAOBAO_CONSOLE_ESCALATION_URL", "escalation"),
        ("SHAOBAO_CONSOLE_NOTIFIER_URL", "notifier"),
        ("SHAOBAO_NOTIFIER_INTAKE_URL", "intake"),
    ]:
        assert env[key] == f"http://{service}:{PORTS[service]}"


def test_the_config_maps_hold_the_config_files_as_they_are(objs: list[Obj]) -> None:
    maps = of_kind(objs, "ConfigMap")
    config = ROOT / "config"
    names = ("rules.yaml", "owners.yaml", "alerts.yaml", "places.yaml", "targets.yaml")
    rules = {n: (config / n).read_text() for n in names}
    assert maps["shaobao-rules"]["data"] == rules
    calendar = {p.name: p.read_text() for p in sorted((config / "calendar").glob("*.yaml"))}
    assert maps["shaobao-calendar"]["data"] == calendar, (
        "list every year in config/kustomization.yaml"
    )
    env = settings_env(objs)
    rules_dir = str(Path(env["SHAOBAO_RULES_FILE"]).parent)
    assert str(Path(env["SHAOBAO_OWNERS_FILE"]).parent) == rules_dir  # alerts.yaml beside rules
    assert env["SHAOBAO_PLACES_FILE"] == f"{rules_dir}/places.yaml"
    assert env["SHAOBAO_TARGETS_FILE"] == f"{rules_dir}/targets.yaml"
    for d in of_kind(objs, "Deployment").values():
        spec = pod_specs(d)[0]
        by_volume = {v["name"]: v.get("configMap", {}).get("name") for v in spec["volumes"]}
        for c in spec["containers"]:
            mounted = {m["mountPath"]: by_volume[m["name"]] for m in c["volumeMounts"]}
            assert mounted[rules_dir] == "shaobao-rules"
            assert mounted[env["SHAOBAO_CALENDAR_DIR"]] == "shaobao-calendar"


def test_the_secret_is_a_template_of_placeholders_and_not_applied(objs: list[Obj]) -> None:
    template = secret_template()
    kubernetes_validate.validate(template, K8S_VERSION, strict=True)
    assert all(str(v).startswith("REPLACE") for v in template["stringData"].values())
    assert "data" not in template
    assert of_kind(objs, "Secret") == {}, "secrets never come from the kustomization"


# -- RabbitMQ and PostgreSQL --------------------------------------------------------------


def _rabbit_config(mq: Obj) -> dict[str, str]:
    lines = mq["spec"]["rabbitmq"]["additionalConfig"].splitlines()
    return dict((k.strip(), v.strip()) for k, _, v in (line.partition("=") for line in lines) if v)


def test_rabbitmq_is_three_nodes_with_a_capped_log_and_an_absolute_watermark(
    objs: list[Obj],
) -> None:
    mq = one(objs, "RabbitmqCluster")
    conf = _rabbit_config(mq)
    assert mq["spec"]["replicas"] == 3
    assert int(conf["raft.wal_max_size_bytes"]) <= 128 * 2**20
    limit = quantity(mq["spec"]["resources"]["limits"]["memory"])
    assert quantity(conf["vm_memory_high_watermark.absolute"]) <= 0.7 * limit
    assert conf["quorum_queue.continuous_membership_reconciliation.enabled"] == "true"
    target = conf["quorum_queue.continuous_membership_reconciliation.target_group_size"]
    assert int(target) == mq["spec"]["replicas"]
    pdb = of_kind(objs, "PodDisruptionBudget")[mq["metadata"]["name"]]["spec"]
    assert pdb["maxUnavailable"] == 1 < mq["spec"]["replicas"] // 2 + 1


class _RecordingChannel:
    """Stands in for an aio-pika channel: records what the services would declare."""

    def __init__(self) -> None:
        self.queues: dict[str, dict[str, Any]] = {}

    async def declare_exchange(self, *args: Any, **kwargs: Any) -> object:
        return object()

    async def declare_queue(self, name: str, **kwargs: Any) -> Any:
        self.queues[name] = kwargs

        class Queue:
            async def bind(self, *args: Any, **kwargs: Any) -> None:
                return None

        return Queue()


async def test_the_queues_the_services_declare_replicate_on_every_rabbitmq_node() -> None:
    """topology.py declares quorum queues without x-quorum-initial-group-size, so each gets
    one replica per node of the 3-node cluster (RabbitMQ's default, up to 3); a size set
    larger than the cluster would be cut to it, so it must stay within the replicas."""
    replicas = one(render_lite(K8S / "base"), "RabbitmqCluster")["spec"]["replicas"]
    channel = _RecordingChannel()
    await declare_queue(channel, Settings(), QueueSpec("router", ("case.received",)))  # type: ignore[arg-type]
    assert set(channel.queues) == {"shaobao.router", "shaobao.router.dlq"}
    for declared in channel.queues.values():
        assert declared["durable"] is True
        args = declared["arguments"]
        assert args["x-queue-type"] == "quorum"
        assert args.get("x-quorum-initial-group-size", replicas) <= replicas
    assert channel.queues["shaobao.router"]["arguments"]["x-delivery-limit"] >= 1


def test_postgres_has_a_replica_and_room_for_every_pod_at_its_maximum(objs: list[Obj]) -> None:
    pg = one(objs, "Cluster")["spec"]
    assert pg["instances"] >= 2, "a primary and a streaming replica"
    assert pg["postgresql"]["synchronous"]["number"] <= pg["instances"] - 1
    engine = make_engine(Settings(db_pool_size=int(settings_env(objs)["SHAOBAO_DB_POOL_SIZE"])))
    per_pod = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    engine.sync_engine.dispose()
    pods = sum(h["spec"]["maxReplicas"] for h in of_kind(objs, "HorizontalPodAutoscaler").values())
    budget = pods * per_pod + SAFETY_CONNECTIONS
    assert int(pg["postgresql"]["parameters"]["max_connections"]) >= budget, (pods, per_pod)


def test_the_production_overlay_restricts_webhook_hosts() -> None:
    env = read_env_file(K8S / "overlays" / "production" / "settings.env")
    hosts = json.loads(env["SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS"])
    assert hosts and "*" not in hosts
