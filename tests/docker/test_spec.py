"""The hardened spec, names, labels and settings: pure, no engine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.docker import ContainerRequest, Limits, UnsafeSpec, container_name, container_spec
from common.docker.settings import DockerSettings, HostConfig


def _request(**over: object) -> ContainerRequest:
    fields: dict[str, object] = dict(
        service="solve_svc", kind="job", id="j42", attempt=2, runtime="1.4.0",
        image="sha256:" + "a" * 64, cmd=["python", "-c", "pass"],
        limits=Limits(memory_mb=512, cpus=1.5, pids=100),
    )
    fields.update(over)
    return ContainerRequest(**fields)  # type: ignore[arg-type]


def test_spec_is_hardened() -> None:
    spec = container_spec(_request())
    hc = spec["HostConfig"]
    assert spec["User"] == "10001:10001"
    assert hc["ReadonlyRootfs"] is True
    assert "/tmp" in hc["Tmpfs"]
    assert hc["CapDrop"] == ["ALL"] and "CapAdd" not in hc
    assert hc["SecurityOpt"] == ["no-new-privileges:true"]
    assert hc["Memory"] == hc["MemorySwap"] == 512 * 1024 * 1024
    assert hc["NanoCpus"] == 1_500_000_000
    assert hc["PidsLimit"] == 100
    assert hc["NetworkMode"] == "none"
    assert hc["Mounts"] == [{"Type": "volume", "Source": "mp-job-j42-2", "Target": "/work"}]


def test_labels_and_name() -> None:
    spec = container_spec(_request())
    assert spec["Labels"] == {
        "org.modelport.service": "solve_svc", "org.modelport.kind": "job",
        "org.modelport.id": "j42", "org.modelport.attempt": "2",
        "org.modelport.runtime": "1.4.0", "org.modelport.memory_mb": "512",
    }
    assert _request().name == "mp-job-j42-2"
    assert container_name("session", "s1", 0) == "mp-session-s1-0"


@pytest.mark.parametrize("bad", ["../x", "", "a b", "x" * 101])
def test_bad_ids_refused(bad: str) -> None:
    with pytest.raises(UnsafeSpec):
        container_name("job", bad, 1)


@pytest.mark.parametrize("key", ["AWS_SECRET_ACCESS_KEY", "MODELPORT_AMQP_URL", "DB_PASSWORD",
                                 "api_key", "SESSION_TOKEN", "MODELPORT_S3_ACCESS_KEY"])
def test_secret_env_refused(key: str) -> None:
    with pytest.raises(UnsafeSpec, match=key):
        container_spec(_request(env={key: "x", "LANG": "C.UTF-8"}))


def test_plain_env_passes() -> None:
    spec = container_spec(_request(env={"LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}))
    assert spec["Env"] == ["LANG=C.UTF-8", "OMP_NUM_THREADS=1"]


def test_limits_checked() -> None:
    with pytest.raises(UnsafeSpec):
        Limits(memory_mb=1)


def test_hosts_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_DOCKER_HOSTS", '[{"name": "a", "slots": 2}, '
                       '{"name": "b", "url": "tcp://10.0.0.2:2376", "tls_ca": "/ca.pem"}]')
    hosts = DockerSettings().hosts
    assert [(h.name, h.slots, h.uses_tls) for h in hosts] == [("a", 2, False), ("b", 4, True)]


def test_default_is_local_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELPORT_DOCKER_HOSTS", raising=False)
    (only,) = DockerSettings().hosts
    assert only.url == "unix:///var/run/docker.sock" and only.slots == 4


@pytest.mark.parametrize("hosts", ['[{"name": "a"}, {"name": "a"}]', '[{"name": "A B"}]',
                                   '[{"name": "a", "url": "ftp://x"}]', "[]",
                                   '[{"name": "a", "tls_cert": "/c.pem"}]'])
def test_bad_hosts_fail(monkeypatch: pytest.MonkeyPatch, hosts: str) -> None:
    monkeypatch.setenv("MODELPORT_DOCKER_HOSTS", hosts)
    with pytest.raises(ValidationError):
        DockerSettings()


def test_host_config_frozen() -> None:
    with pytest.raises(ValidationError):
        HostConfig(name="a", slots=-1)
