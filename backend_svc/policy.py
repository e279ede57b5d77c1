"""Every authorization decision of the platform, in one place.

Handlers call :func:`authorize` before they act; later features add their actions and rules
here instead of scattering checks. The rule today: the platform itself (``system``) and
admins may do anything; a user may read their own account.
"""

from __future__ import annotations

from enum import StrEnum

from common.contracts.base import Principal
from common.errors import Forbidden


class Action(StrEnum):
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    USER_READ = "user.read"


_USER_RULES: dict[Action, str] = {
    Action.USER_READ: "self",  # a user may act on a resource they own
}


def allowed(actor: Principal, action: Action, *, owner_id: str | None = None) -> bool:
    """Whether ``actor`` may perform ``action`` (on a resource owned by ``owner_id``)."""
    if actor.system or actor.is_admin:
        return True
    rule = _USER_RULES.get(action)
    if rule == "self":
        return actor.user_id is not None and actor.user_id == owner_id
    return False


def authorize(actor: Principal, action: Action, *, owner_id: str | None = None) -> None:
    """Raise Forbidden unless :func:`allowed`."""
    if not allowed(actor, action, owner_id=owner_id):
        raise Forbidden(f"{actor.username} is not allowed to {action.value}")
