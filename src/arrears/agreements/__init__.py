"""Repayment agreements: document, signing with tamper evidence, execution, breach and completion
(docs/agreements.md)."""
