"""Markdown renderings of the model declaration for docs/model.md and `il2sim params`.

Pure functions returning text; ``tools/render_docs.py`` writes them into
``docs/model.md`` and a test checks that the file is up to date, so the
documentation cannot drift from the code and the data file.
"""

from __future__ import annotations

from .model import ALGEBRAICS, CONTROLS, DERIVED, OBSERVABLES, RATES, STATES, Model, default_model

__all__ = ["equations_markdown", "parameter_table_markdown", "references_markdown", "rules_markdown", "states_markdown"]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(x: float) -> str:
    return f"{x:.6g}"


def parameter_table_markdown(model: Model | None = None) -> str:
    """The parameter table: name, value (per indication), unit, evidence, source, description, note."""
    table = (model or default_model()).table
    lines = [
        "| parameter | value | unit | valid range | evidence | source | description | variability | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        value = _num(row.value)
        if row.by_indication:
            value = ", ".join(f"{k}: {_num(v)}" for k, v in row.by_indication.items())
        var = "" if row.variability is None else f"log-normal CV {row.variability.cv:g} ({row.variability.evidence})"
        lines.append(
            f"| `{row.name}` | {value} | {_cell(row.unit)} | [{_num(row.bounds[0])}, {_num(row.bounds[1])}] | "
            f"{row.evidence} | {row.source} | "
            f"{_cell(row.description)} | {var} | {_cell(row.note)} |"
        )
    return "\n".join(lines) + "\n"


def references_markdown(model: Model | None = None) -> str:
    """Every reference key with its citation and whether it was read or recalled."""
    table = (model or default_model()).table
    lines = []
    for ref in table.references.values():
        status = "read in the project's reference texts" if ref.retrieved else "**recalled, not verified**"
        lines.append(f"- `{ref.key}`: {ref.citation} ({status})")
    return "\n".join(lines) + "\n"


def states_markdown() -> str:
    """States, controls and derived constants with units."""
    lines = ["| state id | unit | description |", "|---|---|---|"]
    lines += [f"| `{s.id}` | {_cell(s.unit)} | {_cell(s.description)} |" for s in STATES]
    lines += ["", "Controls (piecewise constant, set by the engine):", "", "| control | unit | description |", "|---|---|---|"]
    lines += [f"| `{c.id}` | {_cell(c.unit)} | {_cell(c.description)} |" for c in CONTROLS]
    lines += ["", "Per-patient constants (computed by `derive_constants`):", "", "| name | unit | description |", "|---|---|---|"]
    lines += [f"| `{d.id}` | {_cell(d.unit)} | {_cell(d.description)} |" for d in DERIVED]
    return "\n".join(lines) + "\n"


def equations_markdown() -> str:
    """The equations exactly as declared (algebraics in order, then one rate per state, then observables)."""
    out = ["Algebraic quantities, evaluated in this order:", "", "```"]
    out += [f"{name} = {expr}" for name, expr in ALGEBRAICS]
    out += ["```", "", "Rates (time in hours):", "", "```"]
    out += [f"d({s.id})/dt = {RATES[s.id]}" for s in STATES]
    out += ["```", "", "Observables:", "", "| observable | unit | expression |", "|---|---|---|"]
    out += [f"| `{sym.id}` | {_cell(sym.unit)} | `{_cell(expr)}` |" for sym, expr in OBSERVABLES]
    return "\n".join(out) + "\n"


def rules_markdown() -> str:
    """Every hold/stop rule of every rule set, with its action, restart criterion and source."""
    from .protocol import RULE_SETS

    lines = []
    for name, rules in RULE_SETS.items():
        lines += [f"### `{name}`", "", "| rule id | action | triggers when | restart when | source |", "|---|---|---|---|---|"]
        for r in rules:
            restart = getattr(r, "restart", "") or ("never (stops the cycle)" if r.action == "stop" else "")
            lines.append(f"| `{r.id}` | {r.action} | {_cell(r.description)} | {_cell(restart)} | {_cell(r.source)} |")
        lines.append("")
    return "\n".join(lines)
