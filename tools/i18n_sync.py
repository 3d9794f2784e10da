"""Keeps the page catalogues in step with the templates (see arrears/web/i18n.py).

    python tools/i18n_sync.py AREA     # AREA: messages (shared), workbench, portal, negotiation, dashboards …

Extracts every message from src/arrears/web, appends those found in no catalogue file to
locale/<locale>/LC_MESSAGES/AREA.po of each locale (created if missing) with an empty translation, and prints
the messages that are in a catalogue but no longer in any template (delete them by hand). Then translate the
new entries: the test tests/web/test_i18n.py fails on any empty one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).resolve().parents[1] / "src" / "arrears" / "web"
LOCALES = ("zh_CN", "en")


def extracted() -> dict:
    found = extract_from_dir(
        WEB, method_map=[("**/templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}})
    return {message: context for _, _, message, _, context in found}


def main(area: str) -> None:
    wanted = extracted()
    for locale in LOCALES:
        folder = WEB / "locale" / locale / "LC_MESSAGES"
        known: set = set()
        for path in folder.glob("*.po"):
            with path.open("rb") as f:
                known |= {m.id for m in read_po(f, locale=locale) if m.id}
        target = folder / f"{area}.po"
        if target.exists():
            with target.open("rb") as f:
                catalog = read_po(f, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="arrears", charset="utf-8")
        added = 0
        for message, context in wanted.items():
            key = message if isinstance(message, str) else tuple(message)
            if key not in known and (message[0] if isinstance(message, tuple) else message) not in known:
                catalog.add(key, context=context)
                added += 1
        if added:
            with target.open("wb") as f:
                write_po(f, catalog, width=110, sort_output=True, omit_header=False)
        stale = sorted(str(k) for k in known if k not in {m if isinstance(m, str) else tuple(m) for m in wanted})
        print(f"{locale}: {added} added to {target.name}; no longer used: {stale}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "messages")
