"""Static checks of the deployment files, offline.

- Dockerfile: hadolint, plus what the worker image must do (non-root, health, signals, entry point).
- docker-compose.yml: the compose-spec schema (check-jsonschema's vendored copy), plus one
  service per modality wired to its .env file, state volume, secrets and grace period.
- deploy/k8s: Kubernetes' schemas (kubernetes-validate, strict) for the native kinds, KEDA's
  CRD-generated models (cloudcoil) for the ScaledObjects, plus cross-references.
- <modality>.env: every variable the worker reads is listed, values parse, no secret inline.

The validators come from requirements-ci.txt and Debian's docker-compose, which ./dev setup
installs; without them the tests fail (a skipped check in CI is a missing check).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # from requirements-ci.txt

from ml_service.core import config, metrics

ROOT = Path(__file__).resolve().parent.parent
MODALITIES = ("webcam", "screencast", "audio", "keystrokes", "debug")
K8S_MODALITIES = ("webcam", "screencast", "audio", "keystrokes")
K8S_VERSIONS = ("1.29.0", "1.37.0")
# Proposed by issue 10 with ml_service/core/metrics.py; known here until config.py's table lists them.
NEW_VARIABLES = {"ML_METRICS_PORT", "ML_METRICS_ADDR"}
SECRET_DIR = "/run/secrets/"
UID = 10001
GRACE_MARGIN_S = 10


def tool(name: str) -> str:
    """An executable from requirements-ci.txt: beside this Python first, then on PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -r requirements-ci.txt (./dev setup does)")
    return found


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)


# -- the settings the worker reads ----------------------------------------------------------------
def table_variables() -> set[str]:
    """Variables in ml_service/core/config.py's docstring table (``X (_FILE)`` gives X and X_FILE)."""
    names = set()
    for line in config.__doc__.splitlines():
        match = re.match(r"([A-Z][A-Z0-9_]+)( \(_FILE\))?\s{2,}\S", line)
        if match:
            names.add(match[1])
            if match[2]:
                names.add(f"{match[1]}_FILE")
    return names


def code_variables() -> set[str]:
    """Variables config.py's reader asks for by name (secrets also have _FILE)."""
    source = (ROOT / "ml_service" / "core" / "config.py").read_text()
    body = source[source.index("def _read_all"):source.index("def _split")]
    names = set(re.findall(r'"((?:ML|XQUEUE|PLATFORM)_[A-Z0-9_]+)"', body))
    return names | {f"{name}_FILE" for name in config.SECRET_VARS}


def handler_variables() -> set[str]:
    """ML_* variables a handler reads itself (e.g. ML_WEBCAM_PROCESSES)."""
    names: set[str] = set()
    for source in (ROOT / "handlers").glob("*/*.py"):
        names |= set(re.findall(r'"(ML_[A-Z0-9_]+)"', source.read_text()))
    return names


def env_file(modality: str) -> tuple[dict[str, str], dict[str, str]]:
    """(set variables, commented-out variables) of <modality>.env."""
    active, commented = {}, {}
    for line in (ROOT / f"{modality}.env").read_text().splitlines():
        match = re.match(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            (commented if match[1] else active)[match[2]] = match[3]
    return active, commented


def test_the_settings_table_and_the_code_agree() -> None:
    assert code_variables() <= table_variables() | NEW_VARIABLES


@pytest.mark.parametrize("modality", MODALITIES)
def test_env_file_lists_every_variable_and_no_unknown_one(modality: str) -> None:
    active, commented = env_file(modality)
    listed = set(active) | set(commented)
    known = table_variables() | code_variables() | NEW_VARIABLES
    assert sorted(known - listed) == [], f"{modality}.env does not mention them"
    assert sorted(listed - known) == [], f"{modality}.env names variables the worker does not read"


@pytest.mark.parametrize("modality", MODALITIES)
def test_env_file_holds_no_secret_and_points_at_its_queue(modality: str) -> None:
    active, commented = env_file(modality)
    assert not set(config.SECRET_VARS) & set(active), "secrets go in files, named by *_FILE"
    assert active["ML_XQUEUE_AUTH_FILE"] == f"{SECRET_DIR}xqueue_auth"
    assert active["ML_CLIENT_SECRET_FILE"] == f"{SECRET_DIR}{modality}_client_secret"
    assert active["ML_XQUEUE_NAME"] == modality
    assert active["ML_CLIENT_ID"] == f"ml-{modality}"  # what the sandbox registers
    assert commented["ML_ANALYZER"] == f"handlers.{modality}.{modality}.process"
    assert metrics.parse_ports(active["ML_METRICS_PORT"])


@pytest.mark.parametrize("modality", MODALITIES)
def test_env_file_values_pass_the_worker_config(modality: str, tmp_path: Path) -> None:
    active, _ = env_file(modality)
    environ = dict(active, ML_ANALYZER=f"handlers.{modality}.{modality}.process")
    for name, value in active.items():
        if name.endswith("_FILE"):
            secret = tmp_path / Path(value).name
            secret.write_text("ml_service:not-a-secret")
            environ[name] = str(secret)
    settings = config.Settings.from_env(environ)
    assert settings.queue_name == modality and settings.client_id == f"ml-{modality}"


def test_env_files_have_no_comment_after_a_value() -> None:
    for modality in MODALITIES:
        active, commented = env_file(modality)
        for name, value in {**active, **commented}.items():
            assert "#" not in value and not value.startswith(("'", '"')), f"{modality}.env {name}: compose reads it literally"


# -- Dockerfile ---------------------------------------------------------------------------------------
def dockerfile_stages() -> dict[str, list[str]]:
    """Instructions per stage name, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        current.append(line)
    return stages


def test_hadolint_passes() -> None:
    done = run(tool("hadolint"), "--no-color", "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_worker_stage_is_last_and_complete() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "worker", "the worker must be the default target"
    worker = "\n".join(stages["worker"] + stages["runtime"])
    assert "ARG handler_name" in worker
    assert "ENV ML_ANALYZER=handlers.${handler_name}.${handler_name}.process" in worker
    assert "bash handlers/${handler_name}/install.sh" in worker
    assert "ML_STATE_DIR=/var/lib/ml-service" in worker and 'VOLUME ["/var/lib/ml-service"]' in worker
    assert "STOPSIGNAL SIGTERM" in worker
    assert 'HEALTHCHECK' in worker and '"ml_service.core.metrics", "--check"' in worker
    assert stages["worker"][-2:] == ['ENTRYPOINT ["python", "-m", "ml_service"]', 'CMD ["run"]']
    users = [line for line in stages["worker"] if line.startswith("USER ")]
    assert users == [f"USER {UID}:{UID}"]
    install = next(i for i, line in enumerate(stages["worker"]) if "/install.sh" in line)
    assert install < stages["worker"].index(users[0]), "install.sh needs root: run it before USER"
    copies = [i for i, line in enumerate(stages["worker"]) if line.startswith("COPY handlers/${handler_name}")]
    assert copies and copies[0] < install, "install.sh runs from its folder, next to its handler's code"
    venv = "\n".join(stages["worker-venv"])
    assert "handlers/${handler_name}/requirements.txt" in venv and "-c constraints.txt" in venv


def test_sandbox_stage_runs_the_sandbox_as_the_same_user() -> None:
    sandbox = dockerfile_stages()["sandbox"]
    assert f"USER {UID}:{UID}" in sandbox
    assert any(line.startswith("CMD") and '"sandbox"' in line for line in sandbox)


def test_dockerignore_is_an_allowlist_that_keeps_secrets_out() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "*"
    included = [line[1:] for line in lines if line.startswith("!")]
    assert not [p for p in included if p.startswith(("secrets", ".env", "state", ".git"))]
    for needed in ("requirements.txt", "constraints.txt", "ml_service/", "handlers/"):
        assert needed in included


# -- docker-compose.yml -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", text))


def test_compose_file_follows_the_compose_spec() -> None:
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_v1_reads_the_file() -> None:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose (Debian's v1) is not installed: ./dev setup installs it")
    done = run("docker-compose", "--profile", "sandbox", "config", "-q")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("modality", MODALITIES)
def test_compose_service_per_modality(compose: dict[str, Any], modality: str) -> None:
    service = compose["services"][f"{modality}_service"]
    assert service["build"]["args"] == {"handler_name": modality}
    assert service["build"]["network"] == "host" and service["network_mode"] == "host"
    assert service["env_file"] == f"./{modality}.env"
    assert service["image"].startswith(f"ml-service-{modality}:")
    assert service["restart"] == "unless-stopped"
    assert f"{modality}_state:/var/lib/ml-service" in service["volumes"]
    assert sorted(service["secrets"]) == sorted(["xqueue_auth", f"{modality}_client_secret"])
    assert "container_name" not in service and "ports" not in service, "--scale needs neither"
    active, _ = env_file(modality)
    grace = float(active.get("ML_SHUTDOWN_GRACE_S", 30))
    assert grace + GRACE_MARGIN_S <= seconds(service["stop_grace_period"]) <= grace + 60


def test_compose_secrets_are_files_under_secrets(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        assert secret == {"file": f"./secrets/{name}"}
    used = {s for service in compose["services"].values() for s in service.get("secrets", [])}
    assert used == set(compose["secrets"])
    ignore = (ROOT / "secrets" / ".gitignore").read_text().split()
    assert ignore[ignore.index("*") + 1:] == ["!.gitignore", "!README.md"] or "*" in ignore


def test_env_file_secret_paths_are_mounted(compose: dict[str, Any]) -> None:
    for modality in MODALITIES:
        active, _ = env_file(modality)
        mounted = {f"{SECRET_DIR}{name}" for name in compose["services"][f"{modality}_service"]["secrets"]}
        assert {v for k, v in active.items() if k.endswith("_FILE")} <= mounted


def test_sandbox_profile_runs_the_demo(compose: dict[str, Any]) -> None:
    services = compose["services"]
    profiled = {name for name, s in services.items() if s.get("profiles")}
    assert profiled == {"sandbox", "demo_submitter"}
    assert all(services[name]["profiles"] == ["sandbox"] for name in profiled)
    assert services["sandbox"]["build"]["target"] == "sandbox"
    assert set(services["sandbox"]["secrets"]) == set(compose["secrets"])
    assert services["demo_submitter"]["restart"] == "no"
    for script in ("sandbox-entrypoint.sh", "demo_submit.py"):
        assert (ROOT / "deploy" / "compose" / script).is_file()


# -- Kubernetes -----------------------------------------------------------------------------------------------
def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_native_manifests_match_the_kubernetes_schemas(version: str) -> None:
    import kubernetes_validate
    native = [(name, doc) for name, doc in k8s_documents() if "keda.sh" not in doc["apiVersion"]]
    assert {doc["kind"] for _, doc in native} == {"Namespace", "ConfigMap", "Secret", "Deployment"}
    problems = []
    for name, doc in native:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:  # its text dumps the whole schema: keep the gist
            where = "/".join(str(part) for part in exc.path)
            problems.append(f"{name}: {doc['kind']} {doc['metadata']['name']} at {where}: {exc.message}")
    assert problems == []


def unknown_keys(given: Any, known: Any, path: str = "") -> list[str]:
    """Keys of ``given`` that the validated model dropped (the models ignore unknown fields)."""
    if isinstance(given, dict) and isinstance(known, dict):
        return [f"{path}.{key}" if key not in known else problem
                for key in given for problem in (unknown_keys(given[key], known.get(key), f"{path}.{key}") or [None])
                if key not in known or problem]
    if isinstance(given, list) and isinstance(known, list):
        return [p for i, (g, k) in enumerate(zip(given, known)) for p in unknown_keys(g, k, f"{path}[{i}]")]
    return []


def test_keda_scaled_objects_match_keda_models() -> None:
    import cloudcoil.models.keda.v1alpha1 as keda
    scaled = by_kind("ScaledObject")
    assert set(scaled) == {f"ml-service-{m}" for m in K8S_MODALITIES}
    for name, doc in scaled.items():
        model = keda.ScaledObject.model_validate(doc)
        dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert unknown_keys(doc, dumped) == [], f"{name}: fields KEDA does not know"


def test_unknown_keys_finds_typos() -> None:
    assert unknown_keys({"spec": {"minReplicaCnt": 1, "a": [{"b": 1, "c": 2}]}},
                        {"spec": {"a": [{"b": 1}]}}) == [".spec.minReplicaCnt", ".spec.a[0].c"]


@pytest.mark.parametrize("modality", K8S_MODALITIES)
def test_k8s_deployment_is_wired_together(modality: str) -> None:
    deployment = by_kind("Deployment")[f"ml-service-{modality}"]
    common = by_kind("ConfigMap")["ml-service-common"]["data"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    known = table_variables() | code_variables() | handler_variables() | NEW_VARIABLES | {"POD_NAME", "HOME"}
    assert set(env) | set(common) <= known
    assert env["ML_XQUEUE_NAME"] == modality and env["ML_CLIENT_ID"] == f"ml-{modality}"
    assert container["image"].startswith(f"ml-service-{modality}:")
    assert pod["securityContext"]["runAsUser"] == UID and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    grace = float(env["ML_SHUTDOWN_GRACE_S"])
    assert grace + GRACE_MARGIN_S <= pod["terminationGracePeriodSeconds"] <= grace + 60
    # Secrets: each *_FILE is a mounted item of a Secret that the template defines, same key.
    secrets = {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == "Secret"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    files = {}
    for mount_path, volume in mounts.items():
        for source in volumes[volume].get("projected", {}).get("sources", []):
            for item in source["secret"]["items"]:
                assert item["key"] in secrets[source["secret"]["name"]]["stringData"]
                files[f"{mount_path}/{item['path']}"] = source["secret"]["name"]
    assert {env["ML_XQUEUE_AUTH_FILE"], env["ML_CLIENT_SECRET_FILE"]} <= set(files)
    assert mounts[common["ML_STATE_DIR"]] == "state" and "emptyDir" in volumes["state"]
    # Metrics: the probes and Prometheus use the port the worker serves on.
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", int(common["ML_METRICS_PORT"]))
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == common["ML_METRICS_PORT"]


@pytest.mark.parametrize("modality", K8S_MODALITIES)
def test_keda_scales_its_deployment_on_metrics_the_worker_exports(modality: str) -> None:
    scaled = by_kind("ScaledObject")[f"ml-service-{modality}"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    assert scaled["spec"]["minReplicaCount"] >= 1, "the queue length comes from a running worker"
    exported = {family.name for family in metrics.Metrics().registry.collect()}
    (trigger,) = scaled["spec"]["triggers"]
    used = set(re.findall(r"(ml_service_\w+)\{", trigger["metadata"]["query"]))
    assert used and used <= exported
    assert f'modality="{modality}"' in trigger["metadata"]["query"]


def test_secret_templates_hold_placeholders_only() -> None:
    for name, doc in by_kind("Secret").items():
        assert all("CHANGE-ME" in value for value in doc["stringData"].values()), name


def test_kustomization_lists_every_manifest_but_the_secret_templates() -> None:
    folder = ROOT / "deploy" / "k8s"
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    present = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml", "secrets.template.yaml"}
    assert sorted(listed) == sorted(present)


@pytest.mark.parametrize(("shell", "script"), [
    ("bash", ".ci/docker-smoke.sh"), ("sh", "deploy/compose/sandbox-entrypoint.sh"),
])
def test_shell_scripts_parse(shell: str, script: str) -> None:
    done = run(shell, "-n", script)
    assert done.returncode == 0, done.stderr
