"""Pure parts of sessions: grants, the network's settings and firewall rules, the container
spec of a session on its network."""

from __future__ import annotations

from common.contracts.base import Principal
from common.docker.spec import ContainerRequest, container_spec
from portal_svc.session_grants import Grants
from session_svc.network import bridge_name, firewall_rules, network_spec

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
    spec = network_spec("modelport-sessions")
    assert spec["Internal"] is True
    assert spec["Options"] == {"com.docker.network.bridge.enable_icc": "false",
                               "com.docker.network.bridge.name": "mp-s-sessions"}
    assert len(bridge_name("modelport-a-very-long-network-name")) <= 15
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
