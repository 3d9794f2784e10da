"""Letters as PDF: Typst with the CJK font folder; the text extracted back from the PDF contains the Chinese."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdf
import pytest
from contact_helpers import ADDRESS, NOW, make_borrower, queue, row

from arrears.contact.channels import OutgoingMessage, PdfLetterChannel
from arrears.contact.letters import LetterError, LetterRenderer
from arrears.contact.worker import run_worker
from support import CIPHER


def _text(pdf: bytes) -> str:
    """The PDF's text without whitespace (Typst spaces CJK from Latin and breaks lines anywhere in CJK)."""
    return "".join("".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def test_worker_writes_a_pdf_letter_with_extractable_chinese(db, tmp_path):
    borrower = make_borrower(db)
    queue(db, borrower, "letter", "overdue-letter:L1:2026-03")
    channel = PdfLetterChannel(tmp_path / "letters")
    assert run_worker(db.factory, {"letter": channel}, cipher=CIPHER, now=NOW).sent == 1
    m = row(db, "overdue-letter:L1:2026-03")
    pdf = (tmp_path / "letters" / m.provider_message_id).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for part in ("普惠示范银行", "2026年3月10日", "张三", "建国路", "逾期还款通知", "612.34元", "投诉热线", "12378",
                 "您有权与我们协商"):
        assert part in text, part
    # Collected by the print house: the receipt still says it went out, so no second letter.
    (tmp_path / "letters" / m.provider_message_id).unlink()
    message = OutgoingMessage(m.id, m.dedupe_key, "letter", m.borrower_id, m.loan_id, m.template, m.language,
                              f"张三\n{ADDRESS}", "s", "b", NOW)
    assert channel.send(message) == m.provider_message_id
    assert not (tmp_path / "letters" / m.provider_message_id).exists()


def test_markup_in_the_text_is_printed_not_obeyed():
    pdf = LetterRenderer().render(sender="示范银行", recipient="李四 #strong[x]\n上海市", subject="通知 $x$",
                                  body="第一段 *不加粗* #emph[y]\n\n第二段", language="zh-CN",
                                  written_at=NOW + timedelta(days=1))
    text = _text(pdf)
    assert "#strong[x]" in text and "*不加粗*#emph[y]" in text and "$x$" in text and "2026年3月11日" in text


def test_english_letter():
    pdf = LetterRenderer().render(sender="Inclusive Demo Bank", recipient="Zhang San\nBeijing", subject="Notice",
                                  body="Dear Zhang San (张三),\n\nCNY 612.34 is due.", language="en", written_at=NOW)
    assert "10March2026" in _text(pdf) and "(张三)" in _text(pdf)


def test_missing_fonts_are_errors(tmp_path):
    with pytest.raises(LetterError, match="no fonts in"):
        LetterRenderer(font_dir=tmp_path)
    renderer = LetterRenderer(font="Noto Serif CJK XX")  # a family the folder does not have: Typst warns
    with pytest.raises(LetterError, match="unknown font family"):
        renderer.render(sender="a", recipient="b", subject="c", body="中文", language="zh-CN", written_at=NOW)
