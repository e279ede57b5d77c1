"""Who may see a job: one rule that backend's handlers and the portal's live events both ask.

Backend answers 404 for a job its caller may not see; the portal forwards a job's events
only to those who may see it. Both import :func:`may_see_job`, so they cannot drift apart.
"""

from __future__ import annotations

from common.contracts.base import Principal


def may_see_job(viewer: Principal, owner: str) -> bool:
    """Whether ``viewer`` may see a job of the user named ``owner`` (its row, log, result and
    events): the platform, admins, and the signed-in owner."""
    if viewer.system or viewer.is_admin:
        return True
    return viewer.user_id is not None and viewer.username == owner
