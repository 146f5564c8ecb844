"""Who calls a front door: the verified identity API Gateway's JWT authorizer hands over.

The gateway (API Gateway, or the local one with ``DOCFLOW_AUTH=jwt``) has already checked the
token; a handler never parses one. It reads the claims under
``requestContext.authorizer.jwt.claims`` (strings; a list as ``[a b]``). Without them (the
shared-token or open mode) there is no caller, and every job is everyone's, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Forbidden, InvalidFields, JobNotFound
from .settings import FrontDoorSettings


@dataclass(frozen=True)
class Caller:
    subject: str  # the requester id it acts as (the requester claim, ``sub`` by default)
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """An administrator, or a trusted service, acts for any requester."""
        return FrontDoorSettings.current().admin_group in self.groups

    @property
    def is_reviewer(self) -> bool:
        return FrontDoorSettings.current().reviewer_group in self.groups

    def may_decide(self, job_id: str, requester_id: str | None, reviewer: str | None) -> str:
        """A decision is a reviewer's, on someone else's job (separation of duties, unless
        switched off), in the reviewer's own verified name: the name it is recorded under."""
        if not self.is_reviewer:
            self.may_see(job_id, requester_id)  # a job of someone else's is not there at all
            raise Forbidden(f"deciding needs the {FrontDoorSettings.current().reviewer_group} role")
        if requester_id == self.subject and FrontDoorSettings.current().separate_duties:
            raise Forbidden("you may not decide on a job of your own")
        if reviewer not in (None, self.subject):
            raise Forbidden(f"you are {self.subject}: you may not decide as {reviewer}")
        return self.subject

    def may_operate(self, what: str) -> None:
        """What concerns every tenant (the deployment itself) is an admin's to see."""
        if not self.is_admin:
            raise Forbidden(f"{what} needs the {FrontDoorSettings.current().admin_group} role")

    def may_start_for(self, requester_id: str | None) -> str:
        """The requester a job is started for: the caller, or the one an admin names
        (``Forbidden`` for another requester named by anyone else)."""
        if requester_id in (None, self.subject):
            return self.subject
        if not self.is_admin:
            msg = f"you are {self.subject}: you may not start a job as {requester_id}"
            raise Forbidden(msg)
        return requester_id

    def may_see(self, job_id: str, requester_id: str | None, reviewing: bool = False) -> None:
        """Another requester's job does not exist, for this caller (404, not 403: its id
        says nothing), unless it is an admin, or a reviewer reading it (``reviewing``)."""
        own = requester_id == self.subject
        if not (own or self.is_admin or (reviewing and self.is_reviewer)):
            raise JobNotFound(f"no job {job_id}")


def requester_for(requester_id: str | None, caller: Caller | None) -> str:
    """Who a job is for: decided by the verified caller, if any; else the body must say."""
    if caller is not None:
        return caller.may_start_for(requester_id)
    if requester_id is None:
        raise InvalidFields("requesterId", "required without a verified caller (a JWT)")
    return requester_id


def reviewer_for(job_id: str, requester_id: str | None, reviewer: str | None,
                 caller: Caller | None) -> str:  # fmt: skip
    """Whom a decision is recorded under: the verified reviewer, if any; else the body's."""
    if caller is not None:
        return caller.may_decide(job_id, requester_id, reviewer)
    if reviewer is None:
        raise InvalidFields("reviewer", "required without a verified caller (a JWT)")
    return reviewer


def caller_in(event: dict[str, Any]) -> Caller | None:
    """The caller of an API Gateway (HTTP API v2) event."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    return caller_of((authorizer.get("jwt") or {}).get("claims"))


def caller_of(claims: dict[str, Any] | None) -> Caller | None:
    """The caller the verified ``claims`` name; None without claims (no verified identity)."""
    if not claims:
        return None
    settings = FrontDoorSettings.current()
    subject = claims.get(settings.requester_claim)
    if not isinstance(subject, str) or not subject:
        raise Forbidden(f"the token has no {settings.requester_claim} claim to act as")
    return Caller(subject, frozenset(_listed(claims.get(settings.groups_claim))))


def _listed(value: Any) -> list[str]:
    """A list claim as API Gateway passes it (``[a b]``), or as a JSON list."""
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str):
        return value.strip("[]").split()
    return []
