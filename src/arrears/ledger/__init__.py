"""Double-entry, append-only ledger; balances are derived from postings."""
