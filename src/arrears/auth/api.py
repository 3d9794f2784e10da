"""Sign-in, sign-out, the signed-in user, and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from arrears.auth import service
from arrears.auth.model import Permission, Principal, Role
from arrears.auth.tables import User
from arrears.web.deps import SessionDep, bearer_token, public, require

router = APIRouter(prefix="/api/v1", tags=["auth"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    role: Role


class MeOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role
    team: str | None
    borrower_id: int | None
    permissions: list[str]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=60)
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=service.MIN_PASSWORD, max_length=256)
    role: Role
    team: str | None = Field(None, max_length=40)
    borrower_id: int | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    team: str | None
    borrower_id: int | None
    active: bool
    created_at: datetime


def _user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/auth/token", response_model=TokenOut, dependencies=[Depends(public)])
def sign_in(body: SignIn, request: Request, session: SessionDep) -> TokenOut:
    user, issued = service.sign_in(session, body.username, body.password, ttl=request.app.state.token_ttl)
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at, role=Role(user.role))


@router.post("/auth/logout", status_code=204, response_class=Response)
def sign_out(session: SessionDep, token: Annotated[str, Depends(bearer_token)],
             principal: Annotated[Principal, Depends(require(Permission.account_self))]) -> Response:
    service.revoke_token(session, token, actor=principal.actor)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(principal: Annotated[Principal, Depends(require(Permission.account_self))]) -> MeOut:
    return MeOut(user_id=principal.user_id, username=principal.username, display_name=principal.display_name,
                 role=principal.role, team=principal.team, borrower_id=principal.borrower_id,
                 permissions=sorted(p.value for p in principal.permissions))


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: SessionDep,
                principal: Annotated[Principal, Depends(require(Permission.users_manage))]) -> UserOut:
    user = service.create_user(session, username=body.username, display_name=body.display_name,
                               password=body.password, role=body.role.value, team=body.team,
                               borrower_id=body.borrower_id, actor=principal.actor)
    return _user_out(user)


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep,
               _: Annotated[Principal, Depends(require(Permission.users_manage))]) -> list[UserOut]:
    return [_user_out(u) for u in service.list_users(session)]
