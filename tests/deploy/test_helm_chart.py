"""The Helm chart in deploy/helm/zstack-clone-bot, linted and rendered offline by Helm's own engine
(helm-python-sdk binds Helm's Go SDK: no helm binary, no cluster), then every rendered object
checked: structure, labels and selectors, probes, env names the bot reads, Secret keys, options."""

from __future__ import annotations

import base64
import copy
import tomllib
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography.fernet import Fernet

from bot.config import Settings
from tests.deploy.support import DEPLOY, HERE, REPO, load_json, load_yaml, settings_env_names

helm = pytest.importorskip(
    "helm_python", reason="needs the dev dependency helm-python-sdk (Helm's engine, offline)"
)

CHART = DEPLOY / "helm" / "zstack-clone-bot"
RELEASE = "clone-bot"
NAMESPACE = "bots"
K8S_VALIDATOR = jsonschema.Draft7Validator(load_json(HERE / "k8s_objects.schema.json"))
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
SENTINEL_PASSWORD = "p@ss w/rd+%"

ALTERNATIVE = {
    "replicaCount": 3,
    "image": {"repository": "registry.example.com/ml/zstack-clone-bot", "tag": "1.2.3"},
    "secrets": {"existingSecret": "clone-bot-credentials"},
    "redis": {
        "url": "",
        "sentinel": {
            "enabled": True,
            "hosts": ["sentinel-0.redis:26379", "sentinel-1.redis:26379", "sentinel-2.redis"],
            "masterName": "clonebot",
            "db": 2,
            "password": SENTINEL_PASSWORD,
            "sentinelPassword": "s3ntinel",
        },
    },
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "tls": [{"secretName": "clone-bot-tls", "hosts": ["clone-bot.example.com"]}],
    },
    "settings": {
        "zstackUrl": "https://zstack.internal:8443",
        "zstackConsoleUrl": "https://zstack.example.com",
        "approvalChannel": "C0123456789",
        "approvers": ["U0123456789", "S0123456789"],
        "approvalsRequired": 2,
        "approvalTtlS": 3600,
        "publicUrl": "https://clone-bot.example.com",
        "logLevel": "debug",
        "keyPrefix": "cb:",
        "pollInitialS": 0.5,
        "pollMaxS": 5,
        "jobTimeoutS": 7200,
    },
}


@dataclass
class Rendered:
    values: dict[str, Any]
    objects: list[dict[str, Any]]
    notes: str

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]

    @property
    def container(self) -> dict[str, Any]:
        containers = self.one("Deployment")["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return containers[0]

    def secret_data(self, name: str) -> dict[str, str]:
        secret = next(s for s in self.of("Secret") if s["metadata"]["name"] == name)
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def render(values: dict[str, Any]) -> Rendered:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE)
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(values, objects, notes)


@pytest.fixture(scope="module")
def default() -> Rendered:
    return render({})


@pytest.fixture(scope="module")
def alternative() -> Rendered:
    return render(ALTERNATIVE)


@pytest.fixture(params=["default", "alternative"])
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return request.getfixturevalue(request.param)


# --- the chart as a whole ---------------------------------------------------------------------


def test_helm_lint_strict_is_clean() -> None:
    report = helm.lint(str(CHART), strict=True)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == []


def test_chart_metadata_matches_the_project() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == project["name"]
    assert chart["appVersion"] == project["version"]
    values = load_yaml(CHART / "values.yaml")
    assert values["replicaCount"] == 2


def test_every_object_is_well_formed(rendered: Rendered) -> None:
    for obj in rendered.objects:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in K8S_VALIDATOR.iter_errors(obj)]
        assert errors == [], f"{obj['kind']}/{obj['metadata'].get('name')}: {errors}"
    kinds_names = [(o["kind"], o["metadata"]["name"]) for o in rendered.objects]
    assert len(kinds_names) == len(set(kinds_names))


def test_labels_are_consistent(rendered: Rendered) -> None:
    for obj in rendered.objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/name"] == "zstack-clone-bot"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert "namespace" not in obj["metadata"] or obj["metadata"]["namespace"] == NAMESPACE


def test_selectors_select_the_pods(rendered: Rendered) -> None:
    deployment = rendered.one("Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert set(selector) >= SELECTOR_KEYS
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    service = rendered.one("Service")
    assert service["spec"]["selector"] == selector
    for pdb in rendered.of("PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"] == selector
    for monitor in rendered.of("ServiceMonitor"):  # a ServiceMonitor selects Services
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )


def _container_port(rendered: Rendered, port: int | str) -> int:
    ports = rendered.container["ports"]
    if isinstance(port, int):
        assert port in [p["containerPort"] for p in ports]
        return port
    return next(p["containerPort"] for p in ports if p.get("name") == port)


def test_probes_hit_healthz_and_readyz_on_the_listener(rendered: Rendered) -> None:
    container = rendered.container
    listener = int(rendered.one("ConfigMap")["data"]["CLONEBOT_PORT"])
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        http = container[probe]["httpGet"]
        assert http["path"] == path
        assert _container_port(rendered, http["port"]) == listener
    service_port = rendered.one("Service")["spec"]["ports"][0]
    assert _container_port(rendered, service_port["targetPort"]) == listener
    assert rendered.one("ConfigMap")["data"]["CLONEBOT_HOST"] == "0.0.0.0"


def test_every_env_name_is_a_setting_the_bot_reads(rendered: Rendered) -> None:
    known = settings_env_names()
    names = {e["name"] for e in rendered.container["env"]}
    names |= set(rendered.one("ConfigMap")["data"])
    for secret in rendered.of("Secret"):
        names |= set(secret.get("data") or {})
    assert names - known == set()


def test_env_sources_exist(rendered: Rendered) -> None:
    container = rendered.container
    configmaps = {c["metadata"]["name"] for c in rendered.of("ConfigMap")}
    for source in container["envFrom"]:
        assert source["configMapRef"]["name"] in configmaps
    secrets = {s["metadata"]["name"]: s.get("data") or {} for s in rendered.of("Secret")}
    existing = rendered.values.get("secrets", {}).get("existingSecret")
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        if ref["name"] in secrets:
            if not ref.get("optional"):
                assert ref["key"] in secrets[ref["name"]], f"{env['name']}: no key {ref['key']}"
        else:
            assert existing and ref["name"] == existing, f"{env['name']}: unknown Secret"
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names))
    assert {"SLACK_BOT_TOKEN", "CLONEBOT_SESSION_KEY", "REDIS_URL"} <= set(names)


def test_pods_are_locked_down(rendered: Rendered) -> None:
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    context = rendered.container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in rendered.container["volumeMounts"]}
    for path in ("/data", "/tmp"):
        assert "emptyDir" in volumes[mounts[path]]
    assert rendered.one("ConfigMap")["data"]["CLONEBOT_DATA_DIR"] == "/data"
    resources = rendered.container["resources"]
    assert resources["requests"] and resources["limits"]


def test_the_settings_are_accepted_by_the_bot(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap plus the chart's Secret, as the pod's environment, make valid Settings."""
    env = dict(rendered.one("ConfigMap")["data"])
    for secret in rendered.of("Secret"):
        env.update(rendered.secret_data(secret["metadata"]["name"]))
    env.setdefault("SLACK_BOT_TOKEN", "xoxb-test")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.load()
    assert settings.host == "0.0.0.0"
    assert settings.log_format == "json"


# --- default values ---------------------------------------------------------------------------


def test_default_creates_its_secret_with_a_valid_session_key(default: Rendered) -> None:
    deployment = default.one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    data = default.secret_data(deployment["metadata"]["name"])
    assert set(data) == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "CLONEBOT_SESSION_KEY",
        "REDIS_URL",
    }
    Fernet(data["CLONEBOT_SESSION_KEY"].encode())  # raises if it is not a Fernet key
    assert data["REDIS_URL"] == "redis://redis:6379/0"
    assert "no Slack bot token" in default.notes


def test_default_has_a_pdb_and_no_optional_objects(default: Rendered) -> None:
    assert default.one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert default.of("ServiceMonitor") == []
    assert default.of("Ingress") == []
    container = default.container
    assert container["image"] == f"zstack-clone-bot:{load_yaml(CHART / 'Chart.yaml')['appVersion']}"
    annotations = default.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert {"checksum/config", "checksum/secret"} <= set(annotations)


def test_a_given_session_key_is_used_as_is() -> None:
    key = Fernet.generate_key().decode()
    rendered = render({"secrets": {"sessionKey": key, "slackBotToken": "xoxb-1"}})
    data = rendered.secret_data(rendered.one("Deployment")["metadata"]["name"])
    assert data["CLONEBOT_SESSION_KEY"] == key
    assert data["SLACK_BOT_TOKEN"] == "xoxb-1"
    assert "no Slack bot token" not in rendered.notes


def test_one_replica_has_no_pdb() -> None:
    assert render({"replicaCount": 1}).of("PodDisruptionBudget") == []


# --- alternative values -----------------------------------------------------------------------


def test_alternative_uses_the_existing_secret_for_credentials(alternative: Rendered) -> None:
    assert alternative.one("Deployment")["spec"]["replicas"] == 3
    assert alternative.one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in alternative.container["env"]}
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "CLONEBOT_SESSION_KEY",
    ):
        assert refs[name] == {**refs[name], "name": "clone-bot-credentials", "key": name}
    # The chart's own Secret then holds the Redis URL only.
    (secret,) = alternative.of("Secret")
    assert set(secret["data"]) == {"REDIS_URL"}
    assert refs["REDIS_URL"]["name"] == secret["metadata"]["name"]
    assert alternative.container["image"] == "registry.example.com/ml/zstack-clone-bot:1.2.3"


def test_alternative_sentinel_url_is_one_the_bot_parses(alternative: Rendered) -> None:
    from bot.store.urls import parse_redis_url

    (secret,) = alternative.of("Secret")
    url = alternative.secret_data(secret["metadata"]["name"])["REDIS_URL"]
    target = parse_redis_url(url)
    assert target.kind == "sentinel"
    assert target.hosts == (
        ("sentinel-0.redis", 26379),
        ("sentinel-1.redis", 26379),
        ("sentinel-2.redis", 26379),
    )
    assert target.service_name == "clonebot"
    assert target.db == 2
    assert target.password == SENTINEL_PASSWORD
    assert target.sentinel_password == "s3ntinel"


def test_alternative_settings_reach_the_configmap(alternative: Rendered) -> None:
    data = alternative.one("ConfigMap")["data"]
    assert data["CLONEBOT_APPROVERS"] == "U0123456789,S0123456789"
    assert data["CLONEBOT_APPROVALS_REQUIRED"] == "2"
    assert data["CLONEBOT_APPROVAL_TTL_S"] == "3600"
    assert data["CLONEBOT_PUBLIC_URL"] == "https://clone-bot.example.com"
    assert data["CLONEBOT_LOG_LEVEL"] == "DEBUG"
    assert data["CLONEBOT_POLL_INITIAL_S"] == "0.5"
    assert data["CLONEBOT_JOB_TIMEOUT_S"] == "7200"


def test_alternative_service_monitor_scrapes_metrics(alternative: Rendered) -> None:
    monitor = alternative.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in [p["name"] for p in alternative.one("Service")["spec"]["ports"]]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]


def test_alternative_ingress_routes_slack_and_webhooks_only(alternative: Rendered) -> None:
    ingress = alternative.one("Ingress")
    service = alternative.one("Service")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    paths = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert set(paths) == {"/slack/events", "/zstack/webhook"}
    for backend in paths.values():
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"]["number"] == service["spec"]["ports"][0]["port"]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


def test_redis_url_from_the_existing_secret() -> None:
    rendered = render(
        {
            "secrets": {"existingSecret": "creds"},
            "redis": {"url": "", "existingSecretKey": "redis-url"},
        }
    )
    assert rendered.of("Secret") == []
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in rendered.container["env"]}
    assert refs["REDIS_URL"] == {"name": "creds", "key": "redis-url"}


# --- refusals ---------------------------------------------------------------------------------

REFUSED = {
    "several replicas without Redis": ({"replicaCount": 3, "redis": {"url": ""}}, "shared Redis"),
    "url and sentinel": (
        {"redis": {"sentinel": {"enabled": True, "hosts": ["s:26379"]}}},
        "only one of",
    ),
    "sentinel without hosts": (
        {"redis": {"url": "", "sentinel": {"enabled": True}}},
        "sentinel.hosts",
    ),
    "redis key without existing secret": (
        {"redis": {"url": "", "existingSecretKey": "k"}},
        "existingSecret",
    ),
    "bad log format": ({"settings": {"logFormat": "xml"}}, "logFormat"),
    "bad replica count": ({"replicaCount": 0}, "replicaCount"),
    "unknown value": ({"replicas": 2}, "replicas"),
    "bot token of the wrong kind": ({"secrets": {"slackBotToken": "xapp-1"}}, "slackBotToken"),
}


@pytest.mark.parametrize(("values", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_contradictory_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(values)
