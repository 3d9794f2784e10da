"""Benchmarks run by `arrears bench …`: they print figures, they are not timed tests."""
