"""deploy/: the Dockerfile and the Kubernetes manifests, checked against the schema and against
the program they run (the ConfigMap's configuration served with the Deployment's arguments and
environment, probed as the probes and the HEALTHCHECK probe it)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from mcpconnect._config import Config
from mcpconnect.testing._transport_contract import free_port

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes" / "mcpconnect.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
MCPCONNECT = str(Path(sys.executable).with_name("mcpconnect"))
KUBERNETES = "1.33.0"


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFESTS.read_text())}


def container() -> dict[str, Any]:
    return documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def dockerfile() -> dict[str, list[str]]:
    """The final stage's instructions, by name."""
    parser = DockerfileParser(str(DOCKERFILE))
    final: dict[str, list[str]] = {}
    for item in parser.structure:
        if item["instruction"] == "FROM":
            final = {}
        final.setdefault(item["instruction"], []).append(item["value"])
    return final


@pytest.mark.parametrize("kind", ["ConfigMap", "Deployment", "Service"])
def test_each_manifest_passes_the_kubernetes_schema_strictly(kind: str) -> None:
    kubernetes_validate.validate(documents()[kind], KUBERNETES, strict=True)


def test_the_configmap_holds_a_valid_configuration() -> None:
    import tomllib

    config = Config.model_validate(tomllib.loads(documents()["ConfigMap"]["data"]["mcpconnect.toml"]))
    assert config.storage.backend in {"redis", "postgres"}  # shared by every replica
    assert config.gateway.api_keys_env


def test_the_pieces_agree() -> None:
    import tomllib

    docs, box, image = documents(), container(), dockerfile()
    config = tomllib.loads(docs["ConfigMap"]["data"]["mcpconnect.toml"])
    args = box["args"]
    port = int(args[args.index("--port") + 1])
    assert box["ports"][0]["containerPort"] == port
    assert image["EXPOSE"] == [str(port)]
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == box["ports"][0]["name"]
    # Every probe asks /healthz on that port, under a Host the gateway admits.
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = box[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] == box["ports"][0]["name"]
        host = {h["name"]: h["value"] for h in get["httpHeaders"]}["Host"]
        assert host in config["gateway"]["allowed_hosts"]
    # The variables the configuration reads come from the Secret.
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in box["env"]}
    for variable in (config["gateway"]["api_keys_env"], "MCPCONNECT_STORAGE__URL"):
        assert env[variable]["name"] == "mcpconnect" and not env[variable].get("optional")
    for server in config["servers"].values():
        if server.get("token_env"):
            assert server["token_env"] in env
    # The image's user, config path and home are the Deployment's.
    security = docs["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert image["USER"] == [f"{security['runAsUser']}:{security['runAsGroup']}"]
    entrypoint = json.loads(image["ENTRYPOINT"][0])
    config_path = Path(entrypoint[entrypoint.index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    assert Path(mounts["config"]) == config_path.parent
    assert f"HOME={mounts['home']}" in image["ENV"][0].split()
    assert box["securityContext"]["readOnlyRootFilesystem"] is True


def _healthcheck_argv(port: int) -> list[str]:
    """The Dockerfile's HEALTHCHECK command (exec form), aimed at ``port``."""
    value = dockerfile()["HEALTHCHECK"][0]
    argv: list[str] = json.loads(value[value.index("CMD") + 3 :].strip())
    image_port = int(dockerfile()["EXPOSE"][0])
    return [sys.executable if a == "python" else a.replace(f":{image_port}/", f":{port}/") for a in argv]


@pytest.mark.redis
def test_the_configmap_served_with_the_deployments_arguments_answers_its_probes(tmp_path: Path) -> None:
    """The configuration, arguments and variables of the manifests, run for real (on loopback:
    tests listen on 127.0.0.1 only); Redis stands for the store of the Secret's URL."""
    box = container()
    config = tmp_path / "mcpconnect.toml"
    config.write_text(documents()["ConfigMap"]["data"]["mcpconnect.toml"])
    port = free_port()
    args = list(box["args"])
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    key = "k8s-test-key-0123456789abcdef"
    secret = {"gateway-keys": key, "store-url": "redis://127.0.0.1:6379/0"}
    env = {
        e["name"]: secret[e["valueFrom"]["secretKeyRef"]["key"]]
        for e in box["env"]
        if not e["valueFrom"]["secretKeyRef"].get("optional")
    }
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), **env}
    process = subprocess.Popen(
        [MCPCONNECT, "--config", str(config), *args], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        probe = box["readinessProbe"]["httpGet"]
        host = {h["name"]: h["value"] for h in probe["httpHeaders"]}["Host"]
        answer: httpx.Response | None = None
        for _ in range(300):  # until started (the example's remote server cannot be reached here)
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                answer = httpx.get(base + probe["path"], headers={"Host": host}, timeout=2)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 200:
                break
            time.sleep(0.1)
        assert answer is not None and answer.status_code == 200 and answer.json()["status"] == "ok"
        # The MCP endpoint wants a key; with one of the Secret's it answers.
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        }
        headers = {"Host": host, "Accept": "application/json, text/event-stream"}
        assert httpx.post(f"{base}/mcp", json=request, headers=headers, timeout=5).status_code == 401
        authorized = {**headers, "Authorization": f"Bearer {key}"}
        assert httpx.post(f"{base}/mcp", json=request, headers=authorized, timeout=5).status_code == 200
        # A Host nobody named is refused.
        assert httpx.get(base + "/healthz", headers={"Host": "evil.example"}, timeout=2).status_code == 421
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()


def test_the_images_healthcheck_passes_against_a_gateway_on_every_address(tmp_path: Path) -> None:
    """As in the container: listening on every address with allowed_hosts set, the HEALTHCHECK
    (which names 127.0.0.1) is admitted. Bound to 127.0.0.1 here, with the same rule checked
    through the settings object the server uses."""
    from mcpconnect._config import GatewayConfig
    from mcpconnect._gateway.http import HttpSettings

    gateway = GatewayConfig(api_keys_env="K", allowed_hosts=["mcpconnect:8765"])
    security = HttpSettings("0.0.0.0", 8765, gateway, keys=["k" * 16]).transport_security()
    assert security.enable_dns_rebinding_protection
    assert "127.0.0.1:8765" in security.allowed_hosts and "mcpconnect:8765" in security.allowed_hosts
    # ...and the command itself, run against a real gateway.
    config = tmp_path / "mcpconnect.toml"
    config.write_text('[storage]\nbackend = "memory"\n[servers.none]\ncommand = "true"\n')
    port = free_port()
    process = subprocess.Popen(
        [MCPCONNECT, "--config", str(config), "serve", "--transport", "http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            done = subprocess.run(_healthcheck_argv(port), capture_output=True, check=False)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        assert done.returncode == 0, shlex.join(_healthcheck_argv(port)) + done.stderr.decode()
    finally:
        process.terminate()
        process.wait(timeout=15)
