"""Accounts and bearer tokens: create users, check passwords, issue, resolve and revoke tokens.

Passwords are argon2id hashes. A token is 32 random bytes shown once to the caller; the database
keeps only its SHA-256 digest, so a leaked table cannot be replayed as credentials. Like every
service, these take the caller's session and never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.model import Principal, Role
from arrears.auth.tables import Token, User
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, NotFound, Unauthorized
from arrears.loans.tables import Borrower

DEFAULT_TOKEN_TTL = timedelta(hours=12)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{2,59}$")
_BAD_CREDENTIALS = "wrong username or password"

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so both failures cost the same time.
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _check_new_user(session: Session, username: str, password: str, role: str,
                    borrower_id: int | None) -> Role:
    if not _USERNAME.match(username):
        raise InvalidInput("3–60 characters: lower-case letters, digits and _ . @ -, starting with a "
                           "letter or digit", field="username", rule="username.pattern")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"at least {MIN_PASSWORD} characters", field="password",
                           rule="password.min_length")
    try:
        role_ = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}",
                           field="role", rule="role.known") from None
    if role_ is Role.borrower:
        if borrower_id is None:
            raise InvalidInput("a borrower account must name its borrower", field="borrower_id",
                               rule="borrower_id.required")
        if session.get(Borrower, borrower_id) is None:
            raise InvalidInput(f"no borrower {borrower_id}", field="borrower_id", rule="borrower_id.exists")
    elif borrower_id is not None:
        raise InvalidInput("only borrower accounts belong to a borrower", field="borrower_id",
                           rule="borrower_id.not_allowed")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken", field="username", rule="username.unique")
    return role_


def create_user(session: Session, *, username: str, display_name: str, password: str, role: str,
                actor: str, team: str | None = None, borrower_id: int | None = None) -> User:
    username = username.strip().lower()
    role_ = _check_new_user(session, username, password, role, borrower_id)
    user = User(username=username, display_name=display_name.strip() or username,
                password_hash=hash_password(password), role=role_.value, team=team,
                borrower_id=borrower_id, active=True)
    session.add(user)
    session.flush()
    append_event(session, actor=actor, action="user.created", subject_type="user", subject_id=user.id,
                 borrower_id=borrower_id,
                 after={"username": username, "role": role_.value, "team": team, "active": True})
    return user


def set_user_active(session: Session, *, user_id: int, active: bool, actor: str, reason: str = "") -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id", rule="user.exists")
    if user.active != active:
        before = {"active": user.active}
        user.active = active
        append_event(session, actor=actor, action="user.activated" if active else "user.deactivated",
                     subject_type="user", subject_id=user.id, borrower_id=user.borrower_id,
                     before=before, after={"active": active}, reason=reason)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def authenticate(session: Session, username: str, password: str) -> User:
    """The user with that username and password, else 401. Unknown users cost a hash check too."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        verify_password(_dummy_hash(), password)
        raise Unauthorized(_BAD_CREDENTIALS, rule="auth.credentials")
    if not verify_password(user.password_hash, password):
        raise Unauthorized(_BAD_CREDENTIALS, rule="auth.credentials")
    # Told only to someone who knows the password, so it reveals nothing to a guesser.
    if not user.active:
        raise Unauthorized("this account is disabled; ask an administrator", rule="auth.account_inactive")
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its digest is stored
    token_id: int
    expires_at: datetime


def issue_token(session: Session, user: User, *, ttl: timedelta = DEFAULT_TOKEN_TTL,
                now: datetime | None = None) -> IssuedToken:
    """A new bearer token for ``user``; records the sign-in on the user's event chain."""
    if ttl <= timedelta(0):
        raise InvalidInput("token lifetime must be positive", field="ttl", rule="ttl.positive")
    token = secrets.token_urlsafe(32)
    expires_at = (now or utcnow()) + ttl
    row = Token(token_digest=token_digest(token), user_id=user.id, expires_at=expires_at, revoked=False)
    session.add(row)
    session.flush()
    append_event(session, actor=user.username, action="user.signed_in", subject_type="user",
                 subject_id=user.id, borrower_id=user.borrower_id,
                 after={"token_id": row.id, "expires_at": expires_at.isoformat()})
    return IssuedToken(token=token, token_id=row.id, expires_at=expires_at)


def sign_in(session: Session, username: str, password: str, *, ttl: timedelta = DEFAULT_TOKEN_TTL,
            now: datetime | None = None) -> tuple[User, IssuedToken]:
    user = authenticate(session, username, password)
    return user, issue_token(session, user, ttl=ttl, now=now)


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> Principal:
    """The principal a bearer token stands for, else 401 (unknown, expired, revoked, disabled)."""
    row = session.execute(
        select(Token, User).join(User, User.id == Token.user_id)
        .where(Token.token_digest == token_digest(token))
    ).first()
    if row is None:
        raise Unauthorized("the token is not valid; sign in again", rule="auth.token_invalid")
    tok, user = row
    if tok.revoked:
        raise Unauthorized("the token was revoked; sign in again", rule="auth.token_revoked")
    if tok.expires_at <= (now or utcnow()):
        raise Unauthorized("the token has expired; sign in again", rule="auth.token_expired")
    if not user.active:
        raise Unauthorized("this account is disabled; ask an administrator", rule="auth.account_inactive")
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name,
                     role=Role(user.role), team=user.team, borrower_id=user.borrower_id, token_id=tok.id)


def principal_of(session: Session, username: str) -> Principal:
    """An active user's principal without a token, for the command line: the operator is trusted by the
    machine's own access control, and what they do is audited under this user's name and checked against
    this user's permissions like any request."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        raise NotFound(f"no active user {username!r}", field="as", rule="auth.user_exists")
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name,
                     role=Role(user.role), team=user.team, borrower_id=user.borrower_id)


def revoke_token(session: Session, token: str, *, actor: str) -> None:
    """Signs a token out; revoking one already revoked is a no-op."""
    tok = session.scalar(select(Token).where(Token.token_digest == token_digest(token)))
    if tok is None:
        raise Unauthorized("the token is not valid", rule="auth.token_invalid")
    if tok.revoked:
        return
    tok.revoked = True
    user = session.get(User, tok.user_id)
    append_event(session, actor=actor, action="user.signed_out", subject_type="user",
                 subject_id=tok.user_id, borrower_id=user.borrower_id if user else None,
                 after={"token_id": tok.id})
