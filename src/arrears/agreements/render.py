"""Agreement and settlement-certificate PDFs, typeset by Typst with the letters' CJK font set-up.

The text goes in as JSON data, never as markup (nothing in a name can change the layout); Chinese first,
English available. The PDF carries no creation date, so the same terms give the same bytes (and hash).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache


from arrears.contact.letters import LetterRenderer
from arrears.contact.templates import date_en, date_zh
from arrears.money import format_yuan
from arrears.negotiation.plan import COMPONENTS, Plan

_PREAMBLE = """
#let d = json(bytes(sys.inputs.at("data")))
#set document(title: d.title, date: none)
#set page(paper: "a4", margin: (x: 2.2cm, y: 2.2cm), numbering: "1 / 1")
#set text(font: d.font, size: 10.5pt, lang: d.lang, region: d.region)
#set par(leading: 0.8em)
#align(center, text(size: 16pt, weight: "bold", d.title))
#align(right, text(size: 9pt, d.number))
#v(0.6em)
"""

AGREEMENT = (_PREAMBLE + """
#for p in d.parties { p; linebreak() }
#v(0.4em)
#for s in d.sections [
  #text(weight: "bold", s.heading)
  #linebreak()
  #for line in s.lines { line; linebreak() }
  #if s.at("table", default: none) != none {
    table(columns: s.table.header.len(), align: right, inset: 4pt,
      ..s.table.header.map(h => text(weight: "bold", h)), ..s.table.rows.flatten())
  }
  #v(0.3em)
]
#v(1em)
#for line in d.signatures { line; linebreak() }
""").encode()

CERTIFICATE = (_PREAMBLE + """
#v(1em)
#for line in d.lines { if line == "" { parbreak() } else { line; linebreak() } }
""").encode()

L = {
    "zh": {"title": "还款协议", "cert": "结清证明", "no": "协议编号", "a": "甲方(债权人)", "b": "乙方(借款人)",
           "id": "身份证号", "phone": "手机号", "loan": "借款合同编号",
           "debt": "一、截至 {d} 的欠款", "plan": "二、还款计划", "interest": "三、利息",
           "waiver": "四、减免", "default": "五、违约条款", "dispute": "六、争议解决", "sign": "七、签署",
           "seq": "期数", "due": "到期日", "total": "合计",
           "c": {"principal": "本金", "interest": "利息", "penalty": "罚息", "fee": "费用", "cost": "实现债权费用"},
           "kind": "方案类型:{k};共 {n} 期,应还合计 {t} 元。",
           "rate": "重新安排的本金按年利率 {r} 计息,本计划新增利息 {a} 元(已计入上表)。",
           "no_rate": "本计划不另计利息。",
           "waive_cond": "甲方同意减免 {w} 元(明细:{parts})。该减免以乙方按期履行完毕本协议为条件;乙方违约的,已减免金额恢复计收,乙方已还款项予以扣除。",
           "waive_final": "甲方同意减免 {w} 元(明细:{parts}),该减免不附条件。",
           "no_waiver": "本协议不涉及减免。",
           "default_text": "乙方任一期逾期超过 {g} 日未还,即为该期违约;累计 {m} 期违约,或任一期逾期超过 {l} 日的,甲方有权终止本协议,恢复已减免金额,并依法追收剩余欠款。",
           "sign_a": "甲方(盖章): {name}    授权代表签署日期: ____________",
           "sign_b": "乙方(签字/电子签名): ____________    签署日期: ____________",
           "sign_note": "本协议以电子方式签署,乙方通过发送至其本人手机的一次性验证码确认;协议文本的 SHA-256 摘要记入不可篡改的审计链。",
           "cert_body": ["兹证明借款人 {name}(身份证号 {id})与我行签订的借款合同(编号 {loan})项下的欠款,已按还款协议(编号 {no})于 {d} 全部结清,双方债权债务关系终结。",
                         "", "结清金额合计:{t} 元。", "", "特此证明。", "", "{inst}", "{d}"]},
    "en": {"title": "Repayment Agreement", "cert": "Settlement Certificate", "no": "Agreement no.",
           "a": "Party A (creditor)", "b": "Party B (borrower)", "id": "ID number", "phone": "Mobile",
           "loan": "Loan contract no.", "debt": "1. Debt as of {d}", "plan": "2. Repayment plan",
           "interest": "3. Interest", "waiver": "4. Waiver", "default": "5. Default", "dispute": "6. Disputes",
           "sign": "7. Signatures", "seq": "No.", "due": "Due", "total": "Total",
           "c": {"principal": "Principal", "interest": "Interest", "penalty": "Penalty", "fee": "Fees",
                 "cost": "Costs"},
           "kind": "Plan: {k}; {n} instalments, {t} yuan in total.",
           "rate": "Rescheduled principal bears interest at {r} a year; the plan adds {a} yuan of interest (included above).",
           "no_rate": "The plan charges no further interest.",
           "waive_cond": "Party A waives {w} yuan ({parts}) on condition that Party B completes this agreement; on default the waived amounts are owed again, less what Party B has paid.",
           "waive_final": "Party A waives {w} yuan ({parts}) unconditionally.",
           "no_waiver": "Nothing is waived.",
           "default_text": "An instalment unpaid more than {g} days after it falls due is missed; {m} missed instalments, or any instalment more than {l} days late, allow Party A to end this agreement, reinstate waived amounts and recover the remaining debt.",
           "sign_a": "Party A (seal): {name}    Signed on: ____________",
           "sign_b": "Party B (signature / e-signature): ____________    Signed on: ____________",
           "sign_note": "Signed electronically: Party B confirms with a one-time code sent to their own phone; the SHA-256 digest of this text is kept in a tamper-evident audit chain.",
           "cert_body": ["This certifies that the debt of {name} (ID {id}) under loan contract {loan} was settled in full on {d} under repayment agreement {no}; the claims between the parties are ended.",
                         "", "Total paid under the agreement: {t} yuan.", "", "{inst}", "{d}"]},
}
KIND_ZH = {"instalments": "分期还款", "extension": "展期", "waiver": "减免", "rate_reduction": "降低利率",
           "payment_holiday": "延期还款", "step_up": "阶梯还款", "settlement": "一次性结清", "combination": "组合方案"}


@lru_cache(maxsize=1)
def _letters() -> LetterRenderer:
    return LetterRenderer()


def _lang(language: str) -> str:
    return "zh" if language.lower().startswith("zh") else "en"


def _date(day: date, lang: str) -> str:
    return date_zh(day) if lang == "zh" else date_en(day)


def agreement_data(*, plan: Plan, number: str, language: str, institution: str, borrower_name: str,
                   id_masked: str, phone_masked: str, loan_no: str, dispute: str, grace_days: int,
                   missed_instalments: int, days_late: int) -> dict:
    """Everything the agreement shows, as plain JSON (pure: the tests read it back from the PDF)."""
    lang = _lang(language)
    t, names = L[lang], L[lang]["c"]
    used = [c for c in COMPONENTS if any(getattr(i.amounts, c) for i in plan.schedule)]
    rows = [[str(i.seq), i.due_on.isoformat(), *(format_yuan(getattr(i.amounts, c)) for c in used),
             format_yuan(i.total)] for i in plan.schedule]
    debt_lines = [f"{names[c]}: {format_yuan(getattr(plan.debt, c))}" for c in COMPONENTS if getattr(plan.debt, c)]
    debt_lines.append(f"{t['total']}: {format_yuan(plan.debt.total)}")
    parts = ", ".join(f"{names[c]} {format_yuan(getattr(plan.waiver, c))}" for c in COMPONENTS
                      if getattr(plan.waiver, c))
    waiver = (t["no_waiver"] if not plan.waived else
              (t["waive_cond"] if plan.waiver_conditional else t["waive_final"]).format(
                  w=format_yuan(plan.waived), parts=parts))
    interest = (t["rate"].format(r=f"{plan.annual_rate * 100:.2f}%", a=format_yuan(plan.added.interest))
                if plan.annual_rate or plan.added.interest else t["no_rate"])
    kind = KIND_ZH.get(plan.kind, plan.kind) if lang == "zh" else plan.kind.replace("_", " ")
    return {
        "title": t["title"], "number": f"{t['no']}: {number}",
        "parties": [f"{t['a']}: {institution}",
                    f"{t['b']}: {borrower_name}    {t['id']}: {id_masked}    {t['phone']}: {phone_masked}",
                    f"{t['loan']}: {loan_no}"],
        "sections": [
            {"heading": t["debt"].format(d=_date(plan.as_of, lang)), "lines": debt_lines},
            {"heading": t["plan"], "lines": [t["kind"].format(k=kind, n=len(plan.schedule),
                                                                t=format_yuan(plan.total_to_pay))],
             "table": {"header": [t["seq"], t["due"], *(names[c] for c in used), t["total"]], "rows": rows}},
            {"heading": t["interest"], "lines": [interest]},
            {"heading": t["waiver"], "lines": [waiver]},
            {"heading": t["default"], "lines": [t["default_text"].format(g=grace_days, m=missed_instalments,
                                                                        l=days_late)]},
            {"heading": t["dispute"], "lines": [dispute]},
            {"heading": t["sign"], "lines": [t["sign_note"]]},
        ],
        "signatures": [t["sign_a"].format(name=institution), t["sign_b"]],
    }


def certificate_data(*, number: str, language: str, institution: str, borrower_name: str, id_masked: str,
                     loan_no: str, settled_on: date, total_paid_fen: int) -> dict:
    lang = _lang(language)
    t = L[lang]
    values = {"name": borrower_name, "id": id_masked, "loan": loan_no, "no": number,
              "d": _date(settled_on, lang), "t": format_yuan(total_paid_fen), "inst": institution}
    return {"title": t["cert"], "number": f"{t['no']}: {number}",
            "lines": [line.format(**values) for line in t["cert_body"]]}


def render_pdf(source: bytes, data: dict, language: str) -> bytes:
    """Typesets ``source`` with ``data``; any Typst warning (e.g. a missing glyph) is an error."""
    renderer, lang = _letters(), _lang(language)
    payload = {**data, "font": renderer.font, "lang": lang, "region": "cn" if lang == "zh" else "gb"}
    return renderer.compile(source, payload)
