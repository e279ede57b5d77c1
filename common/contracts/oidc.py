"""Contracts of OpenID Connect sign-in (declared in :class:`common.contracts.methods.UserMethods`).

The portal runs the authorization-code flow and verifies the ID token (signature, ``iss``,
``aud``, ``exp``, ``nonce``); it then hands backend the verified claims, and backend — which
owns users — finds or creates the user linked to ``(issuer, subject)``, syncs the mapped
groups and issues a token. Only the portal's broker role may send these (docs/security.md).
"""

from __future__ import annotations

from pydantic import Field

from common.contracts.base import Contract

MAX_GROUPS = 200


class VerifiedClaims(Contract):
    """What a verified ID token says about its user. ``groups`` is the value of the configured
    group claim (a list of names; empty when the token has none)."""

    issuer: str = Field(min_length=1, max_length=500)
    subject: str = Field(min_length=1, max_length=255)
    email: str = Field("", max_length=320)
    name: str = Field("", max_length=200)
    preferred_username: str = Field("", max_length=200)
    groups: list[str] = Field(default_factory=list, max_length=MAX_GROUPS)
    client_ip: str = Field("", max_length=64)  # where the sign-in came from, for the audit
    token_label: str = Field("oidc", max_length=100)


class OidcRefusal(Contract):
    """A sign-in the portal refused before backend saw any claims (bad state, a code the
    provider would not exchange, a token that did not verify): audited as ``signin.refused``."""

    reason: str = Field(min_length=1, max_length=64)
    detail: str = Field("", max_length=500)
    issuer: str = Field("", max_length=500)
    subject: str = Field("", max_length=255)  # when the token named one (it may be forged)
    client_ip: str = Field("", max_length=64)
