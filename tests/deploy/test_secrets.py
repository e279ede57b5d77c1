"""The stack's secrets (modelport.devstack.secrets) and how a container turns them into one
service's settings (modelport.devstack.container): generated once, kept, given values win,
each service sees only its own."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from common.packages import load_platform_key, load_signing_key
from modelport.devstack import container, secrets


def _folders(root: Path) -> dict[str, Path]:
    out = {name: root / name for name in secrets.FOLDERS}
    for path in out.values():
        path.mkdir(parents=True)
    return out


def test_first_start_generates_every_secret_once_and_keeps_it(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    first = secrets.ensure(folders, {})
    assert sorted(first.generated) == sorted(s.name for s in secrets.SECRETS)
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    again = secrets.ensure(folders, {})
    assert (again.generated, again.given) == ([], [])
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before
    load_platform_key(folders["platform"] / "platform_key")  # a usable key, mode 0400
    key = load_signing_key(folders["publisher"] / "publisher_key")
    assert (folders["platform"] / "publisher.pub").read_text().split()[1] in \
        key.public_key.to_text()


def test_each_folder_holds_only_what_its_readers_need(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    secrets.ensure(folders, {})
    names = {f: sorted(p.name for p in path.iterdir()) for f, path in folders.items()}
    assert names["db"] == ["postgres_password"]
    assert names["broker"] == ["amqp_password", "definitions.json", "rabbitmq.conf"]
    assert names["s3"] == ["s3.json"]
    assert names["publisher"] == ["publisher_key"]
    assert names["backend"] == ["admin_password", "amqp_backend_password", "postgres_password"]
    for own in ("portal", "session", "solve"):
        assert names[own] == [f"amqp_{own}_password"]
    assert "publisher_key" not in names["platform"] and "admin_password" not in names["platform"]
    assert not [n for n in names["platform"] if n.startswith("amqp_")]
    assert stat.S_IMODE((folders["platform"] / "platform_key").stat().st_mode) == 0o400
    assert stat.S_IMODE((folders["db"] / "postgres_password").stat().st_mode) == 0o444


def test_a_given_value_wins_and_derived_files_follow(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    secrets.ensure(folders, {})
    done = secrets.ensure(folders, {"MODELPORT_AMQP_PASSWORD": "given-pw",
                                    "MODELPORT_ADMIN_PASSWORD": "admin-pw"})
    assert sorted(done.given) == ["admin_password", "amqp_password"]
    assert (folders["broker"] / "amqp_password").read_text().strip() == "given-pw"
    assert "default_pass = given-pw" in (folders["broker"] / "rabbitmq.conf").read_text()
    assert (folders["backend"] / "admin_password").read_text().strip() == "admin-pw"


def test_no_two_stacks_share_a_secret(tmp_path: Path) -> None:
    a, b = _folders(tmp_path / "a"), _folders(tmp_path / "b")
    secrets.ensure(a, {})
    secrets.ensure(b, {})
    for secret in secrets.SECRETS:
        home = secret.folders[0]
        assert (a[home] / secret.name).read_text() != (b[home] / secret.name).read_text()


@pytest.fixture
def flat(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "flat"
    folder.mkdir()
    secrets.ensure({name: folder for name in secrets.FOLDERS},
                   {"MODELPORT_AMQP_SOLVE_PASSWORD": "p@ss/word"})
    return {"MODELPORT_SECRETS_DIRS": str(folder)}


def test_backend_alone_gets_the_database_and_the_admin(flat: dict[str, str]) -> None:
    backend = container.service_env("backend", flat)
    assert backend["MODELPORT_DATABASE_URL"].startswith("postgresql://modelport:")
    assert backend["MODELPORT_ADMIN_PASSWORD"]
    assert "MODELPORT_PLATFORM_KEY_FILE" not in backend
    assert "MODELPORT_COOKIE_SECRET" not in backend
    for role in ("portal", "session", "solve"):
        env = container.service_env(role, flat)
        assert "MODELPORT_DATABASE_URL" not in env and "MODELPORT_ADMIN_PASSWORD" not in env
        assert env["MODELPORT_PLATFORM_KEY_FILE"].endswith("platform_key")
        assert env["MODELPORT_TRUSTED_KEYS"].endswith("publisher.pub")
        assert "MODELPORT_PUBLISHER_KEY_FILE" not in env
        assert ("MODELPORT_COOKIE_SECRET" in env) == (role == "portal")


def test_passwords_are_quoted_into_urls_and_the_environment_wins(flat: dict[str, str]) -> None:
    env = container.service_env("solve", flat)
    assert env["MODELPORT_AMQP_URL"] == "amqp://mp-solve-worker:p%40ss%2Fword@rabbitmq:5672/"
    mine = container.service_env("solve", {**flat, "MODELPORT_AMQP_URL": "amqp://x@y/"})
    assert mine["MODELPORT_AMQP_URL"] == "amqp://x@y/"


def test_the_role_comes_from_the_command() -> None:
    assert container.role_of(["python", "-m", "portal_svc"]) == "portal"
    assert container.role_of(["python", "-m", "solve_svc"]) == "solve"
    assert container.role_of(["python", "-m", "modelport.devstack.compose", "bootstrap"]) == \
        "tool"


def test_no_secret_folder_means_no_settings(tmp_path: Path) -> None:
    env = {"MODELPORT_SECRETS_DIRS": str(tmp_path / "missing")}
    assert container.service_env("backend", env) == env


def test_each_service_connects_as_its_own_broker_user_with_the_caller_check_on(
    tmp_path: Path,
) -> None:
    folders = _folders(tmp_path)
    secrets.ensure(folders, {})
    roles = {"mp-backend": "backend", "mp-portal": "portal",
             "mp-session-worker": "session_worker", "mp-solve-worker": "solve_worker"}
    for role, user in (("backend", "mp-backend"), ("portal", "mp-portal"),
                       ("session", "mp-session-worker"), ("solve", "mp-solve-worker")):
        dirs = f"{folders['platform']}:{folders[role]}"
        env = container.service_env(role, {"MODELPORT_SECRETS_DIRS": dirs,
                                           "MODELPORT_INSTANCE_ID": "host7"})
        password = (folders[role] / f"amqp_{role}_password").read_text().strip()
        assert env["MODELPORT_AMQP_URL"] == f"amqp://{user}:{password}@rabbitmq:5672/"
        assert json.loads(env["MODELPORT_BROKER_ROLES"]) == roles
        if role in ("session", "solve"):  # a worker reports under a name its user owns
            assert env["MODELPORT_INSTANCE_ID"] == f"{user}.host7"
    definitions = json.loads((folders["broker"] / "definitions.json").read_text())
    assert {u["name"] for u in definitions["users"]} == {*roles, "modelport"}
    assert "guest" not in (folders["broker"] / "rabbitmq.conf").read_text()
    text = json.dumps(definitions)
    assert not [f for f in ("backend", "portal", "session", "solve")
                if (folders[f] / f"amqp_{f}_password").read_text().strip() in text]
