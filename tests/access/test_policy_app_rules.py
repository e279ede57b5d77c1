"""The app rules of backend_svc/policy.py as a truth table (pure logic: no servers)."""

from __future__ import annotations

import pytest

from backend_svc import policy
from backend_svc.policy import Action, AppAccess
from common.contracts.base import Principal
from common.contracts.methods import RegistryMethods
from common.contracts.registry import AppRef
from common.errors import Forbidden, NotFound

USER = Principal(user_id="u1", username="olga")
PUBLISHER = Principal(user_id="u2", username="pia", role="publisher")
ADMIN = Principal(user_id="u3", username="root", role="admin")
ANONYMOUS = Principal(user_id=None, username="nobody")
OPEN = AppAccess(restricted=False, user=False, publisher=False)
CLOSED = AppAccess(restricted=True, user=False, publisher=False)
MEMBER = AppAccess(restricted=True, user=True, publisher=False)
THEIRS = AppAccess(restricted=True, user=False, publisher=True)


@pytest.mark.parametrize(("actor", "app", "use", "publish"), [
    (USER, OPEN, True, False),
    (USER, CLOSED, False, False),
    (USER, MEMBER, True, False),
    (USER, THEIRS, True, False),  # in a publish group, but the role may not publish
    (PUBLISHER, OPEN, True, False),
    (PUBLISHER, CLOSED, False, False),
    (PUBLISHER, THEIRS, True, True),
    (PUBLISHER, None, False, True),  # a new app: any publisher creates it
    (USER, None, False, False),
    (ANONYMOUS, OPEN, False, False),
    (ADMIN, CLOSED, True, True),
])
def test_use_and_publish(actor: Principal, app: AppAccess | None, use: bool,
                         publish: bool) -> None:
    assert policy.allowed(actor, Action.APP_READ, app=app) is use
    for action in (Action.APP_PUBLISH, Action.APP_ACTIVATE, Action.APP_DELETE,
                   Action.APP_RIGHTS):
        assert policy.allowed(actor, action, app=app) is publish, action


def test_an_app_one_may_not_use_is_not_found_whatever_the_action() -> None:
    for action in (Action.APP_READ, Action.APP_ACTIVATE, Action.APP_PUBLISH):
        with pytest.raises(NotFound):
            policy.authorize_app(PUBLISHER, action, CLOSED, "x")
    with pytest.raises(NotFound):  # no such app: only publishing may create it
        policy.authorize_app(ADMIN, Action.APP_ACTIVATE, None, "x")
    with pytest.raises(Forbidden):  # seen, but not theirs
        policy.authorize_app(PUBLISHER, Action.APP_ACTIVATE, OPEN, "x")
    policy.authorize_app(PUBLISHER, Action.APP_PUBLISH, None, "x")


def test_the_guard_wants_a_signed_in_actor_for_app_rules() -> None:
    with pytest.raises(Forbidden):
        policy.guard(RegistryMethods.GET_APP, AppRef(actor=ANONYMOUS, name="x"))
    policy.guard(RegistryMethods.GET_APP, AppRef(actor=USER, name="x"))  # the handler decides


def test_the_admin_flag_and_the_role_agree() -> None:
    assert Principal(is_admin=True).role == "admin"
    assert Principal(role="admin").is_admin
    assert PUBLISHER.is_publisher and not USER.is_publisher and Principal.SYSTEM.is_publisher
