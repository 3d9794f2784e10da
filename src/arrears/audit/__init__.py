"""The append-only, hash-chained event log behind timelines and the audit trail."""
