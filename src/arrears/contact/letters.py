"""Letters as PDF, typeset by Typst with a CJK font (Debian's fonts-noto-cjk by default).

The letter's text goes in as JSON data, never as markup, so nothing in a name or an address can change the
layout. Only the given font folder is used (no system fonts: the same PDF on every machine), and any Typst
warning, such as an unknown font family, is an error: a letter must never go out with missing glyphs.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typst

from arrears.contact.templates import date_en, date_zh
from arrears.settings import BUSINESS_TZ

DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
DEFAULT_FONT = "Noto Serif CJK SC"
FONT_FILES = ("*.ttc", "*.otf", "*.ttf")

SOURCE = b"""
#let d = json(bytes(sys.inputs.at("data")))
#set document(title: d.subject)
#set page(paper: "a4", margin: (x: 2.4cm, y: 2.4cm))
#set text(font: d.font, size: 11pt, lang: d.lang, region: d.region)
#set par(leading: 0.85em)
#align(right)[#d.sender #linebreak() #d.date]
#v(1.2em)
#for line in d.recipient { line; linebreak() }
#v(1.5em)
#align(center, text(size: 14pt, weight: "bold", d.subject))
#v(1em)
#for line in d.lines {
  if line == "" { parbreak() } else { line; linebreak() }
}
"""


class LetterError(ValueError):
    """The letter cannot be typeset as it must be (no CJK font, a Typst warning or error)."""


class LetterRenderer:
    def __init__(self, *, font_dir: str | Path | None = None, font: str | None = None) -> None:
        self.font_dir = Path(font_dir or os.environ.get("ARREARS_LETTER_FONT_DIR") or DEFAULT_FONT_DIR)
        self.font = font or os.environ.get("ARREARS_LETTER_FONT") or DEFAULT_FONT
        if not self.font_dir.is_dir() or not any(f for pattern in FONT_FILES for f in self.font_dir.glob(pattern)):
            raise LetterError(f"no fonts in {self.font_dir}: install fonts-noto-cjk or set ARREARS_LETTER_FONT_DIR "
                              "to a folder with a CJK font")
        self.compiler = typst.Compiler(font_paths=[str(self.font_dir)], ignore_system_fonts=True)

    def render(self, *, sender: str, recipient: str, subject: str, body: str, language: str,
               written_at: datetime) -> bytes:
        day = written_at.astimezone(ZoneInfo(BUSINESS_TZ)).date()
        zh = language.startswith("zh")
        data = {"font": self.font, "lang": "zh" if zh else "en", "region": "cn" if zh else "gb",
                "sender": sender, "date": date_zh(day) if zh else date_en(day), "subject": subject,
                "recipient": recipient.splitlines(), "lines": body.splitlines()}
        return self.compile(SOURCE, data)

    def compile(self, source: bytes, data: dict) -> bytes:
        """Typesets the Typst ``source``, which reads ``data`` as JSON from ``sys.inputs.data`` (text goes in as
        data, never as markup), with this renderer's fonts only. Any Typst warning (an unknown font, a missing
        glyph) or error is a ``LetterError``. Every PDF of the system (letters, evidence bundle index, agreements,
        certificates) is typeset here."""
        try:
            pdf, warnings = self.compiler.compile_with_warnings(
                input=source, format="pdf", sys_inputs={"data": json.dumps(data, ensure_ascii=False)})
        except typst.TypstError as exc:
            raise LetterError(f"typst: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        if warnings:
            raise LetterError(f"typst warned: {'; '.join(str(w) for w in warnings)} (font folder {self.font_dir})")
        return pdf
