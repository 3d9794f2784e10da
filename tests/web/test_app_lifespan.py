"""What the app's start-up built is kept out of the garbage collector's full passes while it serves
(gc.freeze), and handed back when it stops, so that apps started one after another (tests) do not pile up."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient


def test_the_app_freezes_its_start_up_objects_while_it_serves(make_app):
    gc.unfreeze()
    with TestClient(make_app()) as client:
        assert gc.get_freeze_count() > 0
        assert client.get("/login").status_code == 200
    assert gc.get_freeze_count() == 0
