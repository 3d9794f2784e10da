from sqlalchemy import inspect


def test_every_table_is_created_on_both_backends(db):
    names = set(inspect(db.engine).get_table_names())
    assert {"borrowers", "loans", "instalments", "payments", "postings", "events", "users"} <= names
