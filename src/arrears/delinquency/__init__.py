"""End-of-day delinquency: days past due, penalties, buckets, classification, transitions (docs/eod.md)."""
