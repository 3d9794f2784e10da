"""Request dependencies: the unit of work, the signed-in principal, permissions, the business date.

Every /api/v1 route declares what it needs with ``Depends(require(Permission.x))`` (or ``public``
for sign-in). The declaration is read back from the routes themselves by ``route_guards`` so a test
and the app factory can check that no route was left unguarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from arrears.auth.model import Permission, Principal
from arrears.auth.service import resolve_token
from arrears.db.engine import unit_of_work
from arrears.errors import Forbidden, Unauthorized
from arrears.privacy import PersonalDataCipher
from arrears.settings import business_date as settings_business_date

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commits after the route returns, before the response is sent
    (scope="function"), so a failed commit is answered as an error, never as a success."""
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_cipher(request: Request) -> PersonalDataCipher:
    return request.app.state.cipher


CipherDep = Annotated[PersonalDataCipher, Depends(get_cipher)]


def token_ttl(request: Request) -> timedelta:
    return request.app.state.token_ttl


def business_date() -> date:
    """The server's business date (see arrears.settings.business_date)."""
    try:
        return settings_business_date()
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None


Today = Annotated[date, Depends(business_date)]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def bearer_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None:
        raise Unauthorized("sign in first and send the header 'Authorization: Bearer <token>'",
                           rule="auth.token_missing")
    return credentials.credentials


def current_principal(session: SessionDep, token: Annotated[str, Depends(bearer_token)]) -> Principal:
    return resolve_token(session, token)


_REQUIRES: dict[Permission, Callable[..., Principal]] = {}


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency giving the signed-in principal: 401 without a valid token, 403 without ``permission``.
    One function per permission, so FastAPI's per-request cache resolves the token only once."""
    if permission in _REQUIRES:
        return _REQUIRES[permission]

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"this needs the permission '{permission.value}', which the "
                            f"{principal.role.value} role does not have", rule="auth.permission")
        return principal

    dependency.__name__ = f"require_{permission.name}"
    dependency.permission = permission  # type: ignore[attr-defined]
    _REQUIRES[permission] = dependency
    return dependency


def public() -> None:
    """Marks a route anyone may call without signing in (only sign-in itself)."""


public.public = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RouteGuard:
    method: str
    path: str
    permission: Permission | None
    public: bool


def _calls(dependant: Any) -> Iterator[Callable]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, dependant) of every API route, through included routers."""
    try:  # FastAPI ≥ 0.16x keeps included routers as nested entries of app.routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, set(route.methods or ()), route.dependant
        return
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            yield ctx.path_format or ctx.path or "", set(ctx.methods or ()), ctx.dependant


def route_guards(app: FastAPI, prefix: str = "/api/v1") -> list[RouteGuard]:
    """Every API route under ``prefix`` with the permission it declares (None if it declares none)."""
    guards = []
    for path, methods, dependant in _api_routes(app):
        if not path.startswith(prefix):
            continue
        calls = list(_calls(dependant))
        perms = {c.permission for c in calls if hasattr(c, "permission")}
        if len(perms) > 1:
            raise RuntimeError(f"{path} declares several permissions {sorted(perms)}; declare one")
        is_public = any(getattr(c, "public", False) for c in calls)
        for method in sorted(methods):
            guards.append(RouteGuard(method, path, next(iter(perms), None), is_public))
    return guards


def check_guarded(app: FastAPI) -> None:
    """Refuses to build an app with a route that neither requires a permission nor is marked public."""
    loose = [f"{g.method} {g.path}" for g in route_guards(app) if g.permission is None and not g.public]
    if loose:
        raise RuntimeError("routes without a permission: " + ", ".join(loose))
