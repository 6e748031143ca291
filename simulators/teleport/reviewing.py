"""Reviews submitted by a plugin on behalf of a human: Auth's checks, in Auth's order.

The bridge's "approve from Mattermost" path calls SubmitAccessReview with Author = the human
and field 12 (`submitted_on_behalf_of_author`) set. Auth then checks, in this order: the
admin-action MFA rule for the caller's certificate, the caller's
`review_requests.submit_for_users` (allow patterns, deny patterns win), and finally the normal
review rules *as the Author* (may review, not the requester, one review per author, still
pending), then applies thresholds. Every error text is the one the reference quotes
(../shared/reference/review-from-chat.md 1.3), so the bridge's mapping is tested verbatim.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc

from simulators.teleport.errors import AccessDenied, BadParameter, SimulatorError
from teleportbridge.teleport.proto import types_pb2

RequestState = types_pb2.RequestState
#: Auth's answer to an impersonated (non-tbot) certificate on an admin action (text unverified).
MFA_REQUIRED = "administrative action requires MFA"


class Unavailable(SimulatorError):
    """trace.ConnectionProblem: Auth could not reach its backend."""

    code = grpc.StatusCode.UNAVAILABLE


@dataclass
class ReviewPolicy:
    """What the simulated cluster allows; tests change the fields on a running server."""

    #: review_requests.submit_for_users of the caller's roles (allow / deny patterns).
    submit_for_users: list[str] = field(default_factory=lambda: ["*"])
    deny_submit_for_users: list[str] = field(default_factory=list)
    #: The caller's certificate came from a human's impersonation, not tbot: MFA is required.
    mfa_required: bool = False
    #: An Auth server from before native review: field 12 is unknown and skipped.
    old_server: bool = False
    #: Users who may review (review_requests of *their* roles); None = everyone but the requester.
    reviewers: set[str] | None = None
    #: Approvals needed per request id (default 1); one denial always denies.
    approvals_needed: dict[str, int] = field(default_factory=dict)
    #: Seconds each on-behalf submit takes (a slow Auth, for timeouts).
    delay: float = 0.0
    #: The next N on-behalf submits fail with UNAVAILABLE.
    fail_unavailable: int = 0


def _matches(patterns: Iterable[str], name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def check_caller(policy: ReviewPolicy, caller: str, author: str, on_behalf: bool) -> None:
    """The checks that depend on the caller, before any review rule (Auth's order)."""
    if policy.mfa_required:
        raise AccessDenied(MFA_REQUIRED)
    if not on_behalf or policy.old_server:
        # The old rule (and the one without field 12): you may only review as yourself.
        if author != caller:
            raise AccessDenied(f'user "{caller}" cannot submit reviews on behalf of "{author}"')
        return
    allowed = _matches(policy.submit_for_users, author)
    if not allowed or _matches(policy.deny_submit_for_users, author):
        raise AccessDenied(f'user "{caller}" cannot submit reviews on behalf of "{author}"')


def check_review(
    policy: ReviewPolicy, req: types_pb2.AccessRequestV3, request_id: str, author: str, state: int
) -> None:
    """The normal review rules, run as `author` against the stored request."""
    if state not in (RequestState.APPROVED, RequestState.DENIED):
        if state == RequestState.PROMOTED:
            raise BadParameter("state promoted can be only set when promoting to access list")
        raise BadParameter(f"invalid review state {RequestState.Name(state)}")
    if req.Spec.State != RequestState.PENDING:
        raise AccessDenied(
            "the access request has been already " + RequestState.Name(req.Spec.State).lower()
        )
    may_review = policy.reviewers is None or author in policy.reviewers
    if author == req.Spec.User or not may_review:
        raise AccessDenied(f'user "{author}" cannot review request "{request_id}"')
    if any(r.Author == author for r in req.Spec.Reviews):
        raise AccessDenied(f'user "{author}" has already reviewed this request')


def resolved_state(policy: ReviewPolicy, req: types_pb2.AccessRequestV3, request_id: str) -> int:
    """The state after thresholds: approved when enough approvals, denied on any denial."""
    approvals = sum(1 for r in req.Spec.Reviews if r.ProposedState == RequestState.APPROVED)
    if any(r.ProposedState == RequestState.DENIED for r in req.Spec.Reviews):
        return RequestState.DENIED
    if approvals >= policy.approvals_needed.get(request_id, 1):
        return RequestState.APPROVED
    return RequestState.PENDING
