"""Regenerate the generated sections of docs/model.md from the model declaration and data files.

Usage: python tools/render_docs.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from il2sim._docs import equations_markdown, parameter_table_markdown, references_markdown, states_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "model.md"
SECTIONS = {
    "states": states_markdown,
    "equations": equations_markdown,
    "parameters": parameter_table_markdown,
    "references": references_markdown,
}


def render(text: str) -> str:
    for name, fn in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"docs/model.md lacks the markers for section {name!r}")
        text = pattern.sub(lambda m: m.group(1) + fn() + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    new = render(current)
    if "--check" in argv:
        if new != current:
            print("docs/model.md is out of date: run python tools/render_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
