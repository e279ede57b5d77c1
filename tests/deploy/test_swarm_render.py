"""docker-compose.yml rendered for ``docker stack deploy`` (modelport.devstack.swarm), from
what ``docker compose config`` really prints for it."""

from __future__ import annotations

import json

import pytest

from modelport.devstack import swarm
from tests.deploy.stack import run

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "MODELPORT_DOCKER_GID": "117"}


@pytest.fixture(scope="module")
def stack() -> dict:
    config = json.loads(run("docker", "compose", "--env-file", "/dev/null", "config",
                            "--format", "json", env=ENV))
    return swarm.render(config, stack="mp", modes=swarm.Modes(replicas=3))


def _secrets_of(stack: dict, service: str) -> set[str]:
    return {ref["target"] for ref in stack["services"][service].get("secrets", [])}


def test_one_shots_go_and_every_key_is_one_a_stack_file_knows(stack: dict) -> None:
    assert set(stack["services"]) == {"postgres", "rabbitmq", "s3", "backend", "portal",
                                      "session", "solve", "bootstrap"}
    for name, spec in stack["services"].items():
        assert not set(spec) & set(swarm.UNSUPPORTED), name
        assert None not in spec.values(), name
    assert stack["version"] == "3.8"


def test_services_are_replicated_and_the_infrastructure_is_pinned(stack: dict) -> None:
    for name in swarm.SERVICES:
        assert stack["services"][name]["deploy"]["replicas"] == 3
    for name in swarm.INFRA:
        deploy = stack["services"][name]["deploy"]
        assert deploy["replicas"] == 1
        assert deploy["placement"]["constraints"] == ["node.role == manager"]
    assert stack["services"]["bootstrap"]["deploy"]["restart_policy"]["condition"] == \
        "on-failure"


def test_each_service_gets_the_secrets_of_the_volumes_it_mounted(stack: dict) -> None:
    assert _secrets_of(stack, "postgres") == {"postgres_password"}
    assert _secrets_of(stack, "rabbitmq") == {"rabbitmq.conf", "definitions.json",
                                              "amqp_password"}
    assert _secrets_of(stack, "s3") == {"s3.json"}
    assert {"postgres_password", "admin_password"} <= _secrets_of(stack, "backend")
    assert "amqp_backend_password" in _secrets_of(stack, "backend")
    for name in ("portal", "session", "solve"):
        got = _secrets_of(stack, name)
        assert {"platform_key", "publisher.pub", f"amqp_{name}_password"} <= got, name
        assert not got & {"publisher_key", "admin_password", "postgres_password",
                          "amqp_password"}, name
        assert [s for s in got if s.startswith("amqp_")] == [f"amqp_{name}_password"], name
    assert "publisher_key" in _secrets_of(stack, "bootstrap")
    refs = {r["target"]: r for r in stack["services"]["solve"]["secrets"]}
    assert (refs["platform_key"]["uid"], refs["platform_key"]["mode"]) == ("10001", 0o400)
    used = {r["source"] for s in stack["services"].values() for r in s.get("secrets", [])}
    assert set(stack["secrets"]) == used
    assert all(v == {"external": True, "name": f"mp_{k}"} for k, v in stack["secrets"].items())


def test_no_secret_volume_remains_and_docker_access_becomes_the_group(stack: dict) -> None:
    assert not [v for v in stack["volumes"] if v.startswith("secrets-")]
    for spec in stack["services"].values():
        assert not [m for m in spec.get("volumes", []) if m["source"].startswith("secrets-")]
    assert stack["services"]["solve"]["user"] == "10001:117"
    assert stack["services"]["solve"]["environment"]["MODELPORT_SECRETS_DIRS"] == "/run/secrets"


def test_ports_lose_their_host_address(stack: dict) -> None:
    assert stack["services"]["portal"]["ports"] == [
        {"target": 8080, "published": 8080, "protocol": "tcp", "mode": "ingress"}]


def test_without_ipvs_services_use_dns_and_replicas_their_own_host_ports() -> None:
    config = json.loads(run("docker", "compose", "--env-file", "/dev/null", "config",
                            "--format", "json", env=ENV))
    modes = swarm.Modes(replicas=2, endpoint_mode="dnsrr", port_mode="host")
    stack = swarm.render(config, stack="mp", modes=modes)
    assert {s["deploy"]["endpoint_mode"] for s in stack["services"].values()} == {"dnsrr"}
    assert stack["services"]["portal"]["ports"] == [
        {"target": 8080, "protocol": "tcp", "mode": "host"}]
    one = swarm.render(config, stack="mp", modes=swarm.Modes(replicas=1, port_mode="host"))
    assert one["services"]["portal"]["ports"][0]["published"] == 8080
