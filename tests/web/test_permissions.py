"""Who may call what: every /api/v1 route's permission, borrower scoping, masking of personal data.

The route list comes from the app itself, so a route added later without a permission, or a role
given a permission by mistake, fails here without anyone editing this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.model import ROLE_PERMISSIONS, Permission, Role
from arrears.privacy import PersonalDataCipher
from arrears.web.deps import route_guards
from support import PASSWORD, add_borrower, add_small_loan


@dataclass
class World:
    client: TestClient  # a WebClient (tests/web/conftest.py)
    users: dict[Role, str]
    own_borrower: int
    other_borrower: int
    own_loan: int
    other_loan: int

    def headers(self, role: Role) -> dict[str, str]:
        """A fresh token per call, so a route like logout cannot spoil the next request."""
        return self.client.issued_bearer(self.users[role])


@pytest.fixture
def world(db, secret_key, make_client) -> World:
    contact = {"cipher": PersonalDataCipher(secret_key), "email": "zhangsan@example.com",
               "address": "北京市朝阳区建国路88号", "region_code": "110105"}
    with db.session() as s:
        own = add_borrower(s, "B-OWN", "张三", "110101199003071234", "13812345678", **contact)
        other = add_borrower(s, "B-OTHER", "欧阳娜娜", "310101198501011111", "13900001111", **contact)
        own_loan, other_loan = add_small_loan(s, own, "L-OWN"), add_small_loan(s, other, "L-OTHER")
        users = {role: service.create_user(s, username=f"{role.value}1", display_name=role.value,
                                           password=PASSWORD, role=role.value, actor="setup",
                                           borrower_id=own.id if role is Role.borrower else None).username
                 for role in Role}
        s.commit()
        ids = own.id, other.id, own_loan.id, other_loan.id
    with make_client() as client:
        yield World(client, users, *ids)


def _call(client: TestClient, method: str, path: str, headers: dict | None = None):
    url = re.sub(r"\{[^}]+\}", "999999", path)
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return client.request(method, url, headers=headers, json=body)


EXPECTED = {
    ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/me"),
    ("POST", "/api/v1/users"), ("GET", "/api/v1/users"), ("GET", "/api/v1/borrowers/{borrower_id}"),
    ("GET", "/api/v1/loans"), ("GET", "/api/v1/loans/{loan_id}"),
    ("POST", "/api/v1/loans/{loan_id}/payments"),
    ("POST", "/api/v1/payments/{payment_id}/reverse"), ("GET", "/api/v1/events"), ("GET", "/api/v1/products"),
}


def test_every_route_declares_a_permission_and_only_sign_in_is_public(world):
    guards = route_guards(world.client.app)
    assert EXPECTED <= {(g.method, g.path) for g in guards}
    assert [(g.method, g.path) for g in guards if g.public] == [("POST", "/api/v1/auth/token")]
    assert all(isinstance(g.permission, Permission) for g in guards if not g.public)
    for path in ("/api/v1/openapi.json", "/api/v1/docs"):
        assert world.client.get(path).status_code == 200
    spec = world.client.get("/api/v1/openapi.json").json()
    assert {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops} >= EXPECTED
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())


def test_every_guarded_route_needs_a_token(world):
    for g in route_guards(world.client.app):
        if g.public:
            continue
        r = _call(world.client, g.method, g.path)
        assert r.status_code == 401, (g, r.text)
        assert r.json()["rule"] == "auth.token_missing" and r.headers["www-authenticate"] == "Bearer"


def test_every_role_lacking_a_routes_permission_gets_403_and_the_others_get_past_the_check(world):
    checked = 0
    for g in route_guards(world.client.app):
        if g.public:
            continue
        for role in Role:
            r = _call(world.client, g.method, g.path, world.headers(role))
            if g.permission in ROLE_PERMISSIONS[role]:
                assert r.status_code not in (401, 403), (g, role, r.text)
            else:
                assert r.status_code == 403, (g, role, r.text)
                body = r.json()
                assert body["rule"] == "auth.permission" and g.permission.value in body["detail"]
                checked += 1
    assert checked > 20


def test_role_map_keeps_duties_apart():
    holders = {p: {r for r, perms in ROLE_PERMISSIONS.items() if p in perms} for p in Permission}
    assert holders[Permission.users_manage] == {Role.admin}
    assert holders[Permission.borrowers_read_pii] == {Role.admin, Role.supervisor, Role.legal, Role.borrower}
    assert holders[Permission.payments_reverse] == {Role.admin, Role.supervisor}
    assert Permission.events_read in ROLE_PERMISSIONS[Role.compliance]
    assert ROLE_PERMISSIONS[Role.borrower] <= {Permission.account_self, Permission.loans_read,
                                               Permission.borrowers_read, Permission.borrowers_read_pii,
                                               Permission.hardship_file, Permission.negotiations_read,
                                               Permission.negotiations_propose,
                                               Permission.complaints_file}
    assert holders[Permission.negotiations_approve] == {Role.admin, Role.supervisor}
    assert all(Permission.account_self in perms for perms in ROLE_PERMISSIONS.values())


def test_a_borrower_sees_only_their_own_loans_and_never_learns_others_exist(world):
    h = world.headers(Role.borrower)
    own = world.client.get(f"/api/v1/loans/{world.own_loan}", headers=h)
    assert own.status_code == 200 and own.json()["loan_no"] == "L-OWN"
    other = world.client.get(f"/api/v1/loans/{world.other_loan}", headers=h)
    missing = world.client.get("/api/v1/loans/999999", headers=h)
    assert other.status_code == missing.status_code == 404
    assert other.json()["rule"] == missing.json()["rule"] == "loan.exists"
    listing = world.client.get("/api/v1/loans", headers=h).json()
    assert [i["loan_no"] for i in listing["items"]] == ["L-OWN"] and listing["total"] == 1
    assert world.client.get("/api/v1/loans?borrower_no=B-OTHER", headers=h).json()["items"] == []
    assert world.client.get(f"/api/v1/borrowers/{world.other_borrower}", headers=h).status_code == 404
    staff = world.client.get("/api/v1/loans", headers=world.headers(Role.collector)).json()
    assert sorted(i["loan_no"] for i in staff["items"]) == ["L-OTHER", "L-OWN"]


UNMASKED = {"name": "张三", "id_number": "110101199003071234", "phone": "13812345678",
            "email": "zhangsan@example.com", "address": "北京市朝阳区建国路88号"}
MASKED = {"name": "张*", "id_number": "1101**********1234", "phone": "138****5678",
          "email": "z***@example.com", "address": "北京市朝阳区****"}


@pytest.mark.parametrize("role, expected", [
    (Role.admin, UNMASKED), (Role.supervisor, UNMASKED), (Role.legal, UNMASKED), (Role.borrower, UNMASKED),
    (Role.collector, MASKED), (Role.negotiator, MASKED), (Role.advisor, MASKED), (Role.compliance, MASKED),
])
def test_personal_data_is_masked_for_roles_that_do_not_need_it(world, role, expected):
    r = world.client.get(f"/api/v1/borrowers/{world.own_borrower}", headers=world.headers(role))
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in expected} == expected
    assert body["pii_masked"] is (expected is MASKED)
    assert body["borrower_no"] == "B-OWN"
