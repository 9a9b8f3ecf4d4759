"""Regenerate the generated sections of docs/model.md and docs/protocol.md from the code and data files.

Usage: python tools/render_docs.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from il2sim._docs import (
    equations_markdown, parameter_table_markdown, references_markdown, rules_markdown, states_markdown,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
FILES = {
    "model.md": {
        "states": states_markdown,
        "equations": equations_markdown,
        "parameters": parameter_table_markdown,
        "references": references_markdown,
    },
    "protocol.md": {"rules": rules_markdown},
}


def render(text: str, sections: dict, doc: str) -> str:
    for name, fn in sections.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"docs/{doc} lacks the markers for section {name!r}")
        body = fn()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    stale = []
    for doc, sections in FILES.items():
        path = DOCS / doc
        current = path.read_text(encoding="utf-8")
        new = render(current, sections, doc)
        if new != current:
            stale.append(doc)
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if "--check" in argv and stale:
        print(f"out of date: {', '.join(stale)}: run python tools/render_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
