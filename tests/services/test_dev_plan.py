"""What ``dev up`` hands each service, and the state directory's small files."""

from __future__ import annotations

import json
from pathlib import Path

from common.amqp import broker_users
from modelport.devstack import broker, plan
from modelport.devstack.state import ProcessRecord, StackRecord, StateDir
from portal_svc.settings import PortalSettings

BASE = {
    "MODELPORT_ADMIN_USER": "admin",
    "MODELPORT_ADMIN_PASSWORD": "pw",
    "MODELPORT_DATABASE_URL": "postgresql://db/x",
    "MODELPORT_NEW_PASSWORD": "other",
    "MODELPORT_AMQP_URL": "amqp://h/v",
    "MODELPORT_COOKIE_SECRET": "from-env",
    "PATH": "/bin",
}
SHARED = {"MODELPORT_S3_ENDPOINT_URL": "http://127.0.0.1:9"}


def specs() -> dict[str, plan.ServiceSpec]:
    ports = {"backend": 1, "session": 2, "solve": 3, "portal": 4}
    built = plan.build_specs(ports, BASE, SHARED, {"MODELPORT_COOKIE_SECRET": "key"})
    return {spec.name: spec for spec in built}


def test_secrets_reach_only_the_service_that_needs_them() -> None:
    by_name = specs()
    assert by_name["backend"].env["MODELPORT_ADMIN_PASSWORD"] == "pw"
    for name in ("session", "solve", "portal"):
        env = by_name[name].env
        assert not {"MODELPORT_ADMIN_PASSWORD", "MODELPORT_DATABASE_URL"} & env.keys()
    assert all("MODELPORT_NEW_PASSWORD" not in s.env for s in by_name.values())
    assert by_name["portal"].env["MODELPORT_COOKIE_SECRET"] == "key"
    assert "MODELPORT_COOKIE_SECRET" not in by_name["backend"].env


def test_ports_and_shared_settings() -> None:
    by_name = specs()
    assert by_name["backend"].env["MODELPORT_STATUS_PORT"] == "1"
    assert by_name["portal"].env["MODELPORT_PORT"] == "4"
    assert by_name["portal"].readyz_url == "http://127.0.0.1:4/readyz"
    assert all(s.env["MODELPORT_S3_ENDPOINT_URL"] == "http://127.0.0.1:9" for s in by_name.values())
    assert all(s.env["MODELPORT_AMQP_URL"] == "amqp://h/v" for s in by_name.values())


def test_default_ports_and_free_ports() -> None:
    assert plan.choose_ports(9000, free_ports=False) == {
        "backend": 8091, "session": 8092, "solve": 8093, "portal": 9000,
    }
    free = plan.choose_ports(8080, free_ports=True)
    assert set(free) == {"backend", "session", "solve", "portal"}


def test_portal_url_prefers_the_public_url() -> None:
    assert plan.portal_url({}, 8080) == "http://127.0.0.1:8080"
    assert plan.portal_url({"MODELPORT_HOST": "0.0.0.0"}, 81) == "http://127.0.0.1:81"
    assert plan.portal_url({"MODELPORT_PUBLIC_URL": "https://mp.example/"}, 1) == (
        "https://mp.example"
    )


def test_cookie_secret_is_kept_private_and_valid(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.prepare()
    key = state.cookie_secret()
    assert state.cookie_secret() == key
    assert (state.root / "cookie_secret").stat().st_mode & 0o777 == 0o600
    PortalSettings(cookie_secret=key)  # validates the Fernet format


def test_record_round_trip(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    assert state.read_record() is None
    record = StackRecord([ProcessRecord("s3", 12, "345")], "http://127.0.0.1:1")
    state.write_record(record)
    assert state.read_record() == record
    state.clear_record()
    assert state.read_record() is None


def test_each_service_gets_its_own_broker_user_and_workers_are_named_under_it(
    tmp_path: Path,
) -> None:
    assert broker.prefix_for(tmp_path / "a") != broker.prefix_for(tmp_path / "b")
    assert broker.vhost_of("amqp://u:p@h:5672/") == "/"
    assert broker.vhost_of("amqp://u:p@h:5672/mp-t-1") == "mp-t-1"
    assert broker.vhost_of("amqp://u:p@h:5672/%2Fodd") == "/odd"
    users = broker_users.plan("mp-x-", [])
    made = broker.StackIdentities("amqp://guest:guest@127.0.0.1:5672/v1", users)
    roles = broker_users.roles_map(users)
    for service, name in (("backend", "mp-x-backend"), ("portal", "mp-x-portal"),
                          ("session", "mp-x-session-worker"), ("solve", "mp-x-solve-worker")):
        env = made.env_for(service, {"MODELPORT_INSTANCE_ID": "box"})
        password = next(u.password for u in users if u.name == name)
        assert env["MODELPORT_AMQP_URL"] == f"amqp://{name}:{password}@127.0.0.1:5672/v1"
        assert json.loads(env["MODELPORT_BROKER_ROLES"]) == roles
        assert env.get("MODELPORT_INSTANCE_ID") == (
            f"{name}.box" if service in ("session", "solve") else None)
    assert broker.make(tmp_path, {"MODELPORT_BROKER_ROLES": "{}"}) is None  # caller's own
