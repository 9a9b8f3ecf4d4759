"""Regenerate the generated sections of docs/model.md and docs/protocol.md, and the README figure, from the code.

Usage: python tools/render_docs.py [--check] [--validation RUN/validation.json]

--validation puts the scorecard of a full `il2sim validate` run into docs/validation.md (between its
"scorecard" markers); without it that section is left as it is (--check does not re-run the validation).

The README figure (docs/images/example-patient.png) is what `make patient` draws: the typical melanoma patient on
the label high-dose regimen under the pivotal rules with care. Next to it, example-patient.json records what the
figure shows (doses given and held, response, care, the model hash); --check simulates the patient again and fails
when that record no longer matches, so the figure cannot silently go stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from il2sim._docs import (
    equations_markdown,
    parameter_table_markdown,
    references_markdown,
    rules_markdown,
    states_markdown,
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


FIGURE = DOCS / "images" / "example-patient.png"
FIGURE_RECORD = DOCS / "images" / "example-patient.json"


def _example_patient():
    """The run `make patient` makes (il2sim simulate --indication melanoma --regimen high-dose) and its record."""
    from il2sim.analysis import summarize
    from il2sim.engine import simulate
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS, make_policy

    weeks = 52.0
    result = simulate(typical_patient("melanoma"), NAMED_REGIMENS["high-dose"], days=weeks * 7, engine="fast",
                      policy=make_policy("pivotal"))
    summary = summarize(result, follow_up_weeks=weeks)
    obs = result.observables
    record = {
        "command": "il2sim simulate --indication melanoma --regimen high-dose (make patient)",
        "model_hash": result.individual.model.hash,
        "doses_given": summary["doses_given"], "doses_scheduled": summary["doses_scheduled"],
        "doses_first_course": summary["doses_first_course"],
        "held_by": sorted({h["rule"] for h in summary["holds"]}),
        "courses": summary["courses"], "best_overall_response": summary["best_overall_response"],
        "fluid_boluses": summary["care"].get("fluid_boluses"),
        "phenylephrine_max_ug_kg_min": round(float(summary["care"].get("phenylephrine_max_ug_kg_min", 0.0)), 3),
        "sbp_min_mmhg": round(float(min(obs["sbp_mmhg"])), 1),
        "creatinine_peak_over_baseline": round(float(max(obs["creatinine_mg_dl"]) / obs["creatinine_mg_dl"][0]), 2),
    }
    return result, summary, record


def figure(check: bool) -> bool:
    """Redraw the README figure (or, with ``check``, only compare its record); True when it was stale."""
    result, summary, record = _example_patient()
    try:
        old = json.loads(FIGURE_RECORD.read_text())
    except (OSError, ValueError):
        old = None
    if old == record and FIGURE.exists():
        return False
    if not check:
        from il2sim.io import save_figure
        from il2sim.plot import patient_figure

        save_figure(patient_figure(result, summary), FIGURE)
        FIGURE_RECORD.write_text(json.dumps(record, indent=1) + "\n")
    return True


def scorecard(path: str) -> None:
    """Put the scorecard of the validation run at ``path`` (its validation.json) into docs/validation.md."""
    from il2sim.validation import markdown

    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    target = DOCS / "validation.md"
    text = target.read_text(encoding="utf-8")
    body = markdown(doc["entries"], doc["provenance"]) + "\n"
    pattern = re.compile(r"(<!-- BEGIN GENERATED scorecard -->\n).*?(<!-- END GENERATED scorecard -->)", re.S)
    if not pattern.search(text):
        raise SystemExit("docs/validation.md lacks the markers for section 'scorecard'")
    target.write_text(pattern.sub(lambda m: m.group(1) + body + m.group(2), text), encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--validation" in argv:
        i = argv.index("--validation")
        if i + 1 >= len(argv):
            raise SystemExit("--validation: expected the path of a validation.json")
        scorecard(argv[i + 1])
    stale = []
    if figure("--check" in argv):
        stale.append("images/example-patient.png")
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
