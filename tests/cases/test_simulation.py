"""60 simulated business days on a small generated portfolio, on both backends: cases open, reach every stage of
the lifecycle and close for several reasons; promises are kept and broken, visits reported, a complaint freezes
contact and is resolved; the audit chains verify."""

from datetime import date

from arrears.audit.service import verify_events
from arrears.cases.model import lifecycle
from arrears.delinquency.snapshots import SnapshotStore
from arrears.demo.build import demo_calendar, load_portfolio
from arrears.demo.simulate import simulate
from support import CIPHER

END = date(2026, 11, 20)


def test_sixty_business_days_take_cases_through_every_stage_and_close_them(db, tmp_path):
    calendar = demo_calendar(END)
    start = calendar.add_business_days(END, -60)
    store = SnapshotStore(tmp_path / "snapshots")
    load_portfolio(db.factory, tmp_path / "demo", CIPHER, store, loans=150, business_date=start, seed=11,
                   step=lambda _m: None, calendar=calendar)
    report = simulate(db.factory, store, CIPHER, start=start, days=60, seed=11, calendar=calendar,
                      evidence_root=tmp_path / "files")
    assert report.days == 60 and report.payments > 0
    assert set(report.stages_reached) == set(lifecycle().stage_codes), report.stages_reached
    assert min(report.stages_reached.values()) >= 1
    closed = {reason for reason, n in report.close_reasons.items() if n > 0}
    assert "cured" in closed and len(closed) >= 4 and closed <= set(lifecycle().close_codes), report.close_reasons
    assert report.promises.get("kept", 0) > 0 and report.promises.get("broken", 0) > 0
    assert report.visits > 0 and report.committee_visits > 0
    assert report.complaints == {"resolved": 1}
    assert report.refused.get("open_complaint", 0) >= 1  # the complaint froze contact while it was open
    assert (tmp_path / "files").is_dir()
    with db.session() as s:
        checked, problems = verify_events(s)
    assert problems == [] and checked > 0
