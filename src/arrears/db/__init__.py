"""Persistence: engine, unit of work, base model, migrations."""
