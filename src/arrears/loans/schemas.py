"""Request and response bodies of the loan API, and the builders from rows to them.

Amounts go out as ``{"fen": 123456, "yuan": "1234.56"}`` and come in as yuan text ("1234.56") or
integer fen (123456). A JSON number with a fraction or exponent is refused: it went through a float.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from arrears.loans.allocation import AllocationLine
from arrears.loans.payments import PaymentResult, ReversalResult
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.money import MoneyError, fen_to_yuan, yuan_to_fen
from arrears.privacy import PersonalDataCipher, mask_email, mask_id_number, mask_name, mask_phone
from arrears.products.model import COMPONENTS


class Money(BaseModel):
    fen: int
    yuan: str  # two decimals, no thousands separator: machine-readable

    @classmethod
    def of(cls, amount_fen: int) -> Money:
        return cls(fen=amount_fen, yuan=str(fen_to_yuan(amount_fen)))


def _amount_in(value: object) -> int:
    if isinstance(value, float):
        raise PydanticCustomError(
            "amount.no_float", "amounts must not be JSON numbers with a decimal point or exponent: send "
            "yuan as a string (\"1234.56\") or whole fen as an integer (123456)")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PydanticCustomError("amount.type", "send yuan as a string (\"1234.56\") or fen as an integer")
    if isinstance(value, int):
        return value
    try:
        return yuan_to_fen(value)
    except MoneyError as exc:
        raise PydanticCustomError("amount.yuan_format", "{reason}", {"reason": str(exc)}) from None


MAX_AMOUNT_FEN = 9_999_999_999_999

AmountIn = Annotated[int, BeforeValidator(_amount_in), WithJsonSchema({
    "oneOf": [
        {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "description": "yuan, at most two decimals"},
        {"type": "integer", "description": "fen"},
    ],
    "examples": ["1234.56", 123456],
})]


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The upper bound (under 100 billion yuan) keeps a typo from overflowing a 64-bit column.
    amount: AmountIn = Field(gt=0, le=MAX_AMOUNT_FEN,
                             description="yuan as text ('1234.56') or integer fen (123456)")
    received_on: date = Field(description="value date, ISO (2026-03-15)")
    channel: str = Field("bank_transfer", pattern=r"^[a-z][a-z0-9_]{1,29}$")
    external_ref: str | None = Field(None, max_length=100)


class ReverseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)


class AllocationOut(BaseModel):
    seq: int  # instalment number
    component: str
    amount: Money


class PaymentOut(BaseModel):
    payment_id: int
    loan_id: int
    amount: Money
    received_on: date
    status: str  # posted | reversed (a replay reports the payment as it stands now)
    to_credit: Money  # the part kept as the borrower's credit balance
    allocations: list[AllocationOut]


class ReversalOut(BaseModel):
    payment_id: int
    loan_id: int
    status: str
    reason: str
    entry_id: int  # the mirror ledger entry
    restored: list[AllocationOut]  # put back as outstanding
    credit_reversed: Money
    credit: Money  # the loan's credit balance afterwards


def _lines(lines: Iterable[AllocationLine]) -> list[AllocationOut]:
    return [AllocationOut(seq=x.seq, component=str(x.component), amount=Money.of(x.amount_fen))
            for x in lines]


def payment_out(r: PaymentResult) -> PaymentOut:
    return PaymentOut(payment_id=r.payment_id, loan_id=r.loan_id, amount=Money.of(r.amount_fen),
                      received_on=r.received_on, status=r.status, to_credit=Money.of(r.to_credit_fen),
                      allocations=_lines(r.allocations))


def reversal_out(r: ReversalResult, reason: str) -> ReversalOut:
    return ReversalOut(payment_id=r.payment_id, loan_id=r.loan_id, status="reversed", reason=reason,
                       entry_id=r.entry_id, restored=_lines(r.restored),
                       credit_reversed=Money.of(r.credit_reversed_fen), credit=Money.of(r.credit_fen))


# --- borrowers -------------------------------------------------------------------------------------

class BorrowerOut(BaseModel):
    id: int
    borrower_no: str
    name: str
    id_number: str
    phone: str
    email: str | None
    address: str | None
    region_code: str
    language: str
    timezone: str
    pii_masked: bool


def mask_address(address: str) -> str:
    """Keeps the province/city prefix (enough to route a case), hides the street and number."""
    return address[:6] + "****" if len(address) > 6 else "****"


def borrower_out(b: Borrower, cipher: PersonalDataCipher, *, unmasked: bool) -> BorrowerOut:
    name, id_number, phone = (cipher.decrypt(b.name_enc), cipher.decrypt(b.id_number_enc),
                              cipher.decrypt(b.phone_enc))
    email = cipher.decrypt(b.email_enc) if b.email_enc else None
    address = cipher.decrypt(b.address_enc) if b.address_enc else None
    if not unmasked:
        name, id_number, phone = mask_name(name), mask_id_number(id_number), mask_phone(phone)
        email = mask_email(email) if email else None
        address = mask_address(address) if address else None
    return BorrowerOut(id=b.id, borrower_no=b.borrower_no, name=name, id_number=id_number, phone=phone,
                       email=email, address=address, region_code=b.region_code, language=b.language,
                       timezone=b.timezone, pii_masked=not unmasked)


# --- loans -----------------------------------------------------------------------------------------

class LoanSummary(BaseModel):
    id: int
    loan_no: str
    borrower_id: int
    borrower_no: str
    product_code: str
    repayment_method: str
    status: str
    principal: Money
    outstanding: Money
    disbursed_on: date


class LoanPage(BaseModel):
    items: list[LoanSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class Amounts(BaseModel):
    due: Money
    paid: Money
    waived: Money
    outstanding: Money


class ComponentBalance(Amounts):
    past_due: Money  # outstanding on instalments whose due date is before the business date


class InstalmentOut(BaseModel):
    seq: int
    due_on: date
    total: Amounts
    components: dict[str, Amounts]


class LoanDetail(LoanSummary):
    annual_rate: str
    term: int
    first_due_on: date
    credit: Money  # overpayment held for the borrower
    restructured: bool
    version: int
    as_of: date
    balances: dict[str, ComponentBalance]
    total: ComponentBalance
    schedule: list[InstalmentOut]


def _amounts(due: int, paid: int, waived: int) -> Amounts:
    return Amounts(due=Money.of(due), paid=Money.of(paid), waived=Money.of(waived),
                   outstanding=Money.of(due - paid - waived))


def _figures(inst: Instalment, component: str) -> tuple[int, int, int]:
    return (getattr(inst, f"{component}_due_fen"), getattr(inst, f"{component}_paid_fen"),
            getattr(inst, f"{component}_waived_fen"))


def loan_summary(loan: Loan, borrower_no: str, outstanding_fen: int) -> LoanSummary:
    return LoanSummary(id=loan.id, loan_no=loan.loan_no, borrower_id=loan.borrower_id,
                       borrower_no=borrower_no,
                       product_code=loan.product_code, repayment_method=loan.repayment_method,
                       status=loan.status, principal=Money.of(loan.principal_fen),
                       outstanding=Money.of(outstanding_fen), disbursed_on=loan.disbursed_on)


def loan_detail(loan: Loan, borrower_no: str, instalments: Iterable[Instalment], as_of: date) -> LoanDetail:
    rows = sorted(instalments, key=lambda i: i.seq)
    sums = {c.value: [0, 0, 0, 0] for c in COMPONENTS}  # due, paid, waived, past-due outstanding
    schedule = []
    for inst in rows:
        parts, row = {}, [0, 0, 0]
        for c in COMPONENTS:
            due, paid, waived = _figures(inst, c.value)
            acc = sums[c.value]
            for k, v in enumerate((due, paid, waived)):
                acc[k] += v
                row[k] += v
            if inst.due_on < as_of:
                acc[3] += due - paid - waived
            parts[c.value] = _amounts(due, paid, waived)
        schedule.append(InstalmentOut(seq=inst.seq, due_on=inst.due_on, total=_amounts(*row),
                                      components=parts))
    balances = {c: ComponentBalance(**_amounts(*v[:3]).model_dump(), past_due=Money.of(v[3]))
                for c, v in sums.items()}
    grand = [sum(v[k] for v in sums.values()) for k in range(4)]
    total = ComponentBalance(**_amounts(*grand[:3]).model_dump(), past_due=Money.of(grand[3]))
    summary = loan_summary(loan, borrower_no, total.outstanding.fen)
    return LoanDetail(**summary.model_dump(), annual_rate=str(loan.annual_rate), term=loan.term,
                      first_due_on=loan.first_due_on, credit=Money.of(loan.credit_fen),
                      restructured=loan.restructured, version=loan.version, as_of=as_of,
                      balances=balances, total=total, schedule=schedule)
