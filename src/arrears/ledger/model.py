"""Chart of accounts and the postings each kind of entry makes. Pure: no database, no clock.

Per loan, the receivable account of each component equals what the instalments say is outstanding
(due − paid − waived), and the borrower-credit account equals the loan's credit balance. That is
what ``arrears ledger check`` proves, beside debits = credits in every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from arrears.products.model import Component


class EntryKind(StrEnum):
    disbursement = "disbursement"
    interest = "interest"  # contractual interest booked when the schedule is made
    penalty = "penalty"
    fee = "fee"
    cost = "cost"
    payment = "payment"
    credit_applied = "credit_applied"  # a held credit balance paying instalments that fell due
    waiver = "waiver"
    write_off = "write_off"
    transfer = "transfer"  # a loan sold in a debt-transfer package: price and loss/gain against receivables
    recovery = "recovery"  # money received on a written-off loan
    reversal = "reversal"


class Account(StrEnum):
    principal_receivable = "principal_receivable"
    interest_receivable = "interest_receivable"
    penalty_receivable = "penalty_receivable"
    fee_receivable = "fee_receivable"
    cost_receivable = "cost_receivable"
    borrower_credit = "borrower_credit"  # liability: overpayments held for the borrower
    funding = "funding"  # disbursed cash
    cash_clearing = "cash_clearing"  # money received
    deferred_interest = "deferred_interest"  # contractual interest not yet earned
    penalty_income = "penalty_income"
    fee_income = "fee_income"
    cost_recoverable = "cost_recoverable"
    waiver_expense = "waiver_expense"
    loan_loss = "loan_loss"  # write-offs (核销): the expense charged against the loan-loss reserve
    transfer_loss = "transfer_loss"  # a transferred loan sold below its book balance
    transfer_gain = "transfer_gain"  # ... or above it
    recovery_income = "recovery_income"  # money recovered on written-off loans (账销案存)


RECEIVABLE: dict[Component, Account] = {
    Component.principal: Account.principal_receivable,
    Component.interest: Account.interest_receivable,
    Component.penalty: Account.penalty_receivable,
    Component.fee: Account.fee_receivable,
    Component.cost: Account.cost_receivable,
}

# What a charge of each component is booked against when it is raised.
CHARGE_OFFSET: dict[Component, Account] = {
    Component.principal: Account.funding,
    Component.interest: Account.deferred_interest,
    Component.penalty: Account.penalty_income,
    Component.fee: Account.fee_income,
    Component.cost: Account.cost_recoverable,
}


@dataclass(frozen=True)
class Leg:
    account: Account
    debit_fen: int = 0
    credit_fen: int = 0


def debit(account: Account, amount: int) -> Leg:
    return Leg(account, debit_fen=amount)


def credit(account: Account, amount: int) -> Leg:
    return Leg(account, credit_fen=amount)


def charge_legs(component: Component, amount: int) -> list[Leg]:
    """Raising an amount owed: disbursement, contractual interest, penalty, fee or cost."""
    if amount <= 0:
        return []
    return [debit(RECEIVABLE[component], amount), credit(CHARGE_OFFSET[component], amount)]


def settlement_legs(source: Account, by_component: dict[Component, int], to_credit: int = 0) -> list[Leg]:
    """Money from ``source`` (cash, held credit, waiver, loss) settling receivables; any surplus held as credit."""
    legs = [credit(RECEIVABLE[c], a) for c, a in by_component.items() if a > 0]
    if to_credit > 0:
        legs.append(credit(Account.borrower_credit, to_credit))
    total = sum(leg.credit_fen for leg in legs)
    return [debit(source, total), *legs] if total > 0 else []


def reversed_legs(legs: list[Leg]) -> list[Leg]:
    """The mirror of an entry: every debit becomes a credit and the other way round."""
    return [Leg(leg.account, debit_fen=leg.credit_fen, credit_fen=leg.debit_fen) for leg in legs]


def is_balanced(legs: list[Leg]) -> bool:
    return sum(leg.debit_fen for leg in legs) == sum(leg.credit_fen for leg in legs)
