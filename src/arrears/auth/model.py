"""Roles, permissions and who may see personal data. Pure data: no database, no clock.

Routes ask for one permission each (``arrears.web.deps.require``); a role is only a named set of
permissions, so changing who may do what is an edit to ``ROLE_PERMISSIONS`` below and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # system administration: users, imports, everything
    supervisor = "supervisor"  # collection team lead: approves, reverses, sees full files
    negotiator = "negotiator"  # works repayment plans with borrowers
    collector = "collector"  # calls, messages and visits on assigned cases
    legal = "legal"  # lawyer letters, litigation, enforcement: needs identities for filings
    compliance = "compliance"  # audits conduct: reads trails, not identities
    borrower = "borrower"  # the borrower's own portal account: sees only their own loans
    advisor = "advisor"  # customer advisor (客户经理): reads loans to advise, changes nothing


class Permission(StrEnum):
    account_self = "account:self"  # own session and profile; every signed-in user has it
    products_read = "products:read"
    loans_read = "loans:read"
    loans_write = "loans:write"
    payments_write = "payments:write"
    payments_reverse = "payments:reverse"
    borrowers_read = "borrowers:read"  # the borrower record, personal data masked
    borrowers_read_pii = "borrowers:read_pii"  # ... and unmasked
    users_manage = "users:manage"
    events_read = "events:read"  # the audit trail
    imports_run = "imports:run"
    cases_read = "cases:read"
    cases_work = "cases:work"  # record contacts, promises to pay, visits
    negotiations_propose = "negotiations:propose"
    negotiations_approve = "negotiations:approve"
    legal_manage = "legal:manage"  # lawyer letters, litigation cases, enforcement, settlements
    legal_read = "legal:read"  # litigation cases and deadline tasks (no identities in them)
    legal_evidence = "legal:evidence"  # build an evidence bundle: identities in clear, for the court
    reports_read = "reports:read"
    negotiations_read = "negotiations:read"  # negotiations, offers, options and hardship applications
    hardship_file = "hardship:file"  # file a hardship application and its evidence (a borrower: own loans)
    hardship_verify = "hardship:verify"  # verify or reject a hardship application
    queues_work = "queues:work"  # one's own work queue (tasks assigned to oneself)
    queues_supervise = "queues:supervise"  # every team's queue, reassignment and override
    credit_manage = "credit:manage"  # objections to credit records, month-end reporting
    writeoff_propose = "writeoff:propose"
    writeoff_approve = "writeoff:approve"  # the checker of a write-off batch (never its maker)
    transfer_manage = "transfer:manage"  # debt-transfer packages: build, value, export, record the sale
    cases_manage = "cases:manage"  # close cases, assign owners and teams, set do-not-contact
    complaints_file = "complaints:file"  # file a complaint (a borrower only for themselves)
    complaints_manage = "complaints:manage"  # read, assign, resolve complaints and their statistics
    scores_read = "scores:read"  # risk scores and their reasons (early warning, propensity)
    agreements_prepare = "agreements:prepare"  # send for signature, record an oral agreement, withdraw
    agreements_countersign = "agreements:countersign"  # the checker: brings an agreement into force


P = Permission
_STAFF_BASE = {P.account_self, P.products_read, P.loans_read, P.borrowers_read}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    # Reversals and approvals sit with supervisors, not with the people who work the case
    # (segregation of duties); posting payments is back-office work, also not the collector's.
    Role.supervisor: frozenset(_STAFF_BASE | {
        P.loans_write, P.payments_write, P.payments_reverse, P.borrowers_read_pii, P.events_read,
        P.imports_run, P.cases_read, P.cases_work, P.negotiations_propose, P.negotiations_approve,
        P.legal_read, P.reports_read, P.negotiations_read, P.hardship_file, P.hardship_verify,
        P.queues_work, P.queues_supervise, P.credit_manage, P.writeoff_approve, P.transfer_manage,
        P.cases_manage, P.complaints_file, P.complaints_manage, P.scores_read, P.agreements_prepare,
        P.agreements_countersign,
    }),
    Role.negotiator: frozenset(_STAFF_BASE | {
        P.cases_read, P.cases_work, P.negotiations_propose, P.negotiations_read, P.hardship_file,
        P.hardship_verify, P.queues_work, P.complaints_file, P.scores_read, P.agreements_prepare,
    }),
    # Collectors see masked identities; revealing a phone number to dial is a separate audited action.
    Role.collector: frozenset(_STAFF_BASE | {
        P.cases_read, P.cases_work, P.queues_work, P.complaints_file, P.scores_read,
    }),
    Role.legal: frozenset(_STAFF_BASE | {
        P.borrowers_read_pii, P.events_read, P.cases_read, P.legal_manage, P.legal_read, P.legal_evidence,
        P.queues_work, P.writeoff_propose, P.complaints_file,
    }),
    Role.compliance: frozenset(_STAFF_BASE | {
        P.events_read, P.cases_read, P.legal_read, P.reports_read, P.credit_manage, P.complaints_file,
        P.complaints_manage, P.scores_read,
    }),
    # A borrower's permissions apply to their own records only (see SELF_SCOPED_ROLES).
    Role.borrower: frozenset({
        P.account_self, P.loans_read, P.borrowers_read, P.borrowers_read_pii, P.negotiations_propose,
        P.negotiations_read, P.hardship_file, P.complaints_file,
    }),
    Role.advisor: frozenset(_STAFF_BASE | {
        P.cases_read, P.complaints_file,
    }),
}

# Roles whose every read is limited to the borrower the account belongs to.
SELF_SCOPED_ROLES: frozenset[Role] = frozenset({Role.borrower})


def permissions_for(role: Role | str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[Role(role)]


@dataclass(frozen=True)
class Principal:
    """Who is making a request: the signed-in user, resolved from a bearer token."""

    user_id: int
    username: str
    display_name: str
    role: Role
    team: str | None = None
    borrower_id: int | None = None  # set only for borrower accounts
    token_id: int | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def self_scoped(self) -> bool:
        return self.role in SELF_SCOPED_ROLES

    def may_see(self, borrower_id: int) -> bool:
        """Whether this principal may see anything of that borrower at all."""
        return not self.self_scoped or self.borrower_id == borrower_id

    def sees_pii_of(self, borrower_id: int) -> bool:
        """Unmasked personal data: the permission, and for self-scoped roles only their own."""
        return self.can(Permission.borrowers_read_pii) and self.may_see(borrower_id)

    @property
    def actor(self) -> str:
        """How events name this principal."""
        return self.username
