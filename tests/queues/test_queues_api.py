"""The queue API: a collector sees only their own tasks and may not read a team's queue or reassign (403);
a supervisor reads a team's queue and reassigns, with 409 on a stale version."""

import yaml
from sqlalchemy import select

from arrears.auth.tables import User
from arrears.queues.service import assign_open_tasks
from test_assignment import TEAMS, add_case, add_tasks


def test_a_collector_sees_only_their_own_queue_and_supervisors_see_the_team(db, make_client, tmp_path,
                                                                              monkeypatch):
    path = tmp_path / "teams.yaml"
    teams = {**TEAMS, "teams": [{**TEAMS["teams"][0], "collectors": [
        {"username": "collector", "capacity": 1}, {"username": "other", "capacity": 1}]}]}
    path.write_text(yaml.safe_dump(teams))
    monkeypatch.setenv("ARREARS_TEAMS_FILE", str(path))
    with make_client("collector", "supervisor", "admin") as client:
        with db.session() as s:
            from arrears.auth import service as auth

            auth.create_user(s, username="other", display_name="o", password="correct horse battery",
                             role="collector", actor="t")
            add_tasks(s, add_case(s), 3)
            assign_open_tasks(s)
            s.commit()
            ids = dict(s.execute(select(User.username, User.id)).all())
        mine = client.get("/api/v1/queues/mine", headers=client.bearer("collector"))
        assert mine.status_code == 200
        assert [t["assignee_user_id"] for t in mine.json()] == [ids["collector"]]
        for_other = client.get("/api/v1/queues/mine", headers=client.bearer("other")).json()
        assert [t["assignee_user_id"] for t in for_other] == [ids["other"]]
        assert {t["id"] for t in for_other}.isdisjoint({t["id"] for t in mine.json()})

        collector = client.bearer("collector")
        assert client.get("/api/v1/queues?team=phone", headers=collector).status_code == 403
        task = mine.json()[0]
        body = {"to_user_id": ids["other"], "expected_version": task["version"], "override": True, "reason": "x"}
        assert client.post(f"/api/v1/queues/tasks/{task['id']}/reassign", json=body,
                           headers=collector).status_code == 403

        lead = client.bearer("supervisor")
        team = client.get("/api/v1/queues?team=phone", headers=lead)
        assert team.status_code == 200 and len(team.json()) == 3
        assert client.get("/api/v1/queues?team=nope", headers=lead).status_code == 404
        moved = client.post(f"/api/v1/queues/tasks/{task['id']}/reassign", json=body, headers=lead)
        assert moved.status_code == 200 and moved.json()["assignee_user_id"] == ids["other"]
        stale = client.post(f"/api/v1/queues/tasks/{task['id']}/reassign", json=body, headers=lead)
        assert stale.status_code == 409
        assert client.get("/api/v1/queues/mine", headers=collector).json() == []
