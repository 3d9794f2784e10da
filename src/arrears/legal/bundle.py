"""The evidence bundle: one zip holding the index PDF (证据目录 and every part as a table, Chinese), the original
files and ``manifest.json`` with each file's SHA-256 and size. ``verify_bundle`` recomputes them: a changed,
missing or added file is reported by name. Building a bundle appends an event on the case that records the
manifest's own SHA-256, so the manifest itself cannot be swapped unnoticed against the audit trail."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.contact.letters import DEFAULT_FONT, LetterRenderer
from arrears.legal.evidence import Part, gather
from arrears.privacy import PersonalDataCipher
from arrears.settings import BUSINESS_TZ

INDEX = "00_index.pdf"
MANIFEST = "manifest.json"
FORMAT = "arrears-evidence-bundle/1"

SOURCE = """
#let d = json(bytes(sys.inputs.at("data")))
#set document(title: d.title)
#set page(paper: "a4", margin: (x: 1.6cm, y: 1.8cm), numbering: "1 / 1")
#set text(font: d.font, size: 8pt, lang: "zh", region: "cn")
#align(center, text(size: 16pt, weight: "bold", d.title))
#for line in d.head { line; linebreak() }
#v(0.6em)
#text(size: 12pt, weight: "bold")[证据目录]
#table(columns: (auto, auto, 1fr, auto), [序号], [文件], [内容], [SHA-256],
  ..d.index.map(r => (r.at(0), r.at(1), r.at(2), text(size: 5.5pt, r.at(3)))).flatten())
#for (i, s) in d.sections.enumerate() {
  pagebreak(weak: true)
  text(size: 11pt, weight: "bold")[#(i + 1). #s.title (#s.path)]
  linebreak()
  if s.rows.len() == 0 [(无记录)] else {
    table(columns: s.columns.len(), ..s.columns.map(c => strong(c)), ..s.rows.flatten())
  }
}
""".encode("utf-8")


class BundleError(ValueError):
    """The bundle cannot be read as one (not a zip, no manifest)."""


@dataclass(frozen=True)
class Bundle:
    data: bytes
    manifest: dict
    manifest_sha256: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_pdf(head: dict, parts: list[Part], built_at: datetime, renderer: LetterRenderer | None = None) -> bytes:
    renderer = renderer or LetterRenderer()
    local = built_at.astimezone(ZoneInfo(BUSINESS_TZ))
    data = {"font": renderer.font if renderer.font else DEFAULT_FONT, "title": "证据材料汇编",
            "head": [f"案件编号:{head['case_id']}    合同编号:{head['loan_no']}    "
                     f"借款人:{head['borrower_name']}({head['borrower_no']})",
                     f"法院案号:{head['court_case_no'] or '(未立案)'}    制作时间:{local:%Y-%m-%d %H:%M}(北京时间)",
                     "各文件的 SHA-256 见下表及 manifest.json;本目录文件自身的哈希记录在 manifest.json 与审计日志中。"],
            "index": [[str(i + 1), p.path, p.title_zh, _sha(p.data)] for i, p in enumerate(parts)],
            "sections": [{"title": p.title_zh, "path": p.path, "columns": p.columns, "rows": p.rows}
                         for p in parts if p.columns]}
    return renderer.compile(SOURCE, data)


def pack(files: list[tuple[str, bytes]], meta: dict) -> Bundle:
    manifest = {"format": FORMAT, **meta, "algorithm": "sha256",
                "files": [{"path": path, "sha256": _sha(data), "bytes": len(data)} for path, data in files]}
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            z.writestr(path, data)
        z.writestr(MANIFEST, manifest_bytes)
    return Bundle(out.getvalue(), manifest, _sha(manifest_bytes))


def build_bundle(session: Session, *, cipher: PersonalDataCipher, case_id: int, actor: str, now: datetime,
                 renderer: LetterRenderer | None = None, letters_dir: Path | None = None) -> Bundle:
    """Builds the case's bundle and appends ``legal.evidence_bundle_built`` on the case. ``letters_dir``: the
    letter channel's folder; the PDF letters it printed for this loan's notices are added as originals."""
    head, parts = gather(session, cipher, case_id)
    if letters_dir is not None:
        from sqlalchemy import select

        from arrears.contact.tables import OutboxMessage

        sent = session.execute(select(OutboxMessage.id, OutboxMessage.provider_message_id).where(
            OutboxMessage.case_id == case_id, OutboxMessage.channel == "letter",
            OutboxMessage.provider_message_id.is_not(None))).all()
        for message_id, name in sent:
            file = Path(letters_dir) / name
            if file.is_file():
                parts.append(Part(f"07_notices/{message_id:06d}-letter.pdf", f"信函 PDF {message_id}", file.read_bytes()))
    files = [(INDEX, index_pdf(head, parts, now, renderer))] + [(p.path, p.data) for p in parts]
    bundle = pack(files, {"case_id": case_id, "loan_no": head["loan_no"], "built_at": now.isoformat(),
                          "built_by": actor})
    from arrears.cases.tables import Case

    case = session.get(Case, case_id)
    append_event(session, actor=actor, action="legal.evidence_bundle_built", subject_type="case", subject_id=case_id,
                 borrower_id=case.borrower_id if case else None, occurred_at=now,
                 after={"manifest_sha256": bundle.manifest_sha256, "files": len(files),
                        "bytes": len(bundle.data)})
    return bundle


def verify_bundle(data: bytes) -> list[str]:
    """Every problem found (empty when the bundle is intact): files changed, missing or not in the manifest."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleError("not a zip file") from None
    with z:
        names = set(z.namelist())
        if MANIFEST not in names:
            raise BundleError(f"no {MANIFEST} in the bundle")
        try:
            manifest = json.loads(z.read(MANIFEST))
            listed = {f["path"]: f for f in manifest["files"]}
        except (ValueError, KeyError, TypeError):
            raise BundleError(f"{MANIFEST} is not a bundle manifest") from None
        if manifest.get("format") != FORMAT:
            raise BundleError(f"{MANIFEST}: unknown format {manifest.get('format')!r}")
        problems = []
        for path, entry in listed.items():
            if path not in names:
                problems.append(f"{path}: missing")
                continue
            content = z.read(path)
            if _sha(content) != entry.get("sha256") or len(content) != entry.get("bytes"):
                problems.append(f"{path}: changed (SHA-256 {_sha(content)} ≠ {entry.get('sha256')})")
        problems += [f"{name}: not in the manifest" for name in sorted(names - set(listed) - {MANIFEST})]
    return problems
