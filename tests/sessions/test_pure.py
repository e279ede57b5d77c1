"""Pure parts of sessions: grants, the network's settings and firewall rules, the container
spec of a session on its network."""

from __future__ import annotations

import hashlib

from common.contracts.base import Principal
from common.docker.spec import ContainerRequest, container_spec
from portal_svc.session_grants import Grants
from session_svc.network import bridge_name, bridge_of, firewall_rules, network_spec

ALICE = Principal(user_id="u-1", username="alice")


def test_a_grant_opens_only_its_session_until_it_expires() -> None:
    grants = Grants("secret")
    token = grants.issue("s-1", ALICE, "mp_signin")
    found = grants.check(token, "s-1")
    assert found is not None and found.principal == ALICE and found.token == "mp_signin"
    assert "mp_signin" not in token  # sealed: the URL does not show the sign-in token
    assert grants.check(token, "s-2") is None
    assert Grants("another secret").check(token, "s-1") is None
    payload, _, signature = token.partition(".")
    assert grants.check(payload + "x." + signature, "s-1") is None
    assert grants.check("", "s-1") is None and grants.check("garbage", "s-1") is None
    assert Grants("secret", ttl_s=-1).check(Grants("secret", ttl_s=-1).issue("s-1", ALICE, "t"),
                                            "s-1") is None


def test_the_sessions_network_is_internal_without_traffic_between_containers() -> None:
    spec = network_spec("modelport-sessions", "host-a")
    assert spec["Internal"] is True
    assert spec["Options"] == {"com.docker.network.bridge.enable_icc": "false",
                               "com.docker.network.bridge.name":
                                   bridge_name("modelport-sessions", "host-a")}


def test_the_bridge_is_named_per_host_stable_and_short() -> None:
    names = {bridge_name(network, host) for network in ("modelport-sessions", "mpt-1a2b3c4d")
             for host in ("local", "host-a", "host-b", "a-very-long-docker-host-name.example")}
    assert len(names) == 8  # distinct per (network, host)
    assert all(len(n) <= 15 and n.startswith("mps-") for n in names), names
    assert bridge_name("modelport-sessions", "host-a") == bridge_name("modelport-sessions",
                                                                       "host-a")
    assert bridge_name("modelport-sessions", "host-a") == "mps-" + hashlib.sha256(
        b"modelport-sessions\0host-a").hexdigest()[:11]


def test_the_firewall_names_the_bridge_a_network_really_has() -> None:
    made_before = {"Id": "ab" * 32, "Options": {"com.docker.network.bridge.name": "mp-s-sessions"}}
    assert bridge_of(made_before) == "mp-s-sessions"  # a network of an earlier version
    assert bridge_of({"Id": "0123456789abcdef" * 4, "Options": {}}) == "br-0123456789ab"
    accept, drop = firewall_rules("mp-s-x")
    assert accept[:3] == ["INPUT", "-i", "mp-s-x"] and accept[-1] == "ACCEPT"
    assert drop == ["INPUT", "-i", "mp-s-x", "-j", "DROP"]


def test_a_session_container_joins_its_network_and_stays_hardened() -> None:
    request = ContainerRequest("svc", "session", "abc", 1, "1.0.0", "img", ["python"],
                               network="modelport-sessions")
    spec = container_spec(request)
    assert spec["NetworkDisabled"] is False
    host = spec["HostConfig"]
    assert host["NetworkMode"] == "modelport-sessions"
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"] and spec["User"] == "10001:10001"
    assert container_spec(ContainerRequest("svc", "job", "abc", 1, "1.0.0", "img", ["x"])
                          )["HostConfig"]["NetworkMode"] == "none"
