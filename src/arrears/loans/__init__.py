"""Borrowers, loans, schedules, payments and their allocation, import."""
