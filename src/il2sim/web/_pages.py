"""The HTML of the pages: plain server-rendered markup, every value escaped, no inline script.

The pages' scripts are static files of the package (``static/``); the
Content-Security-Policy of :mod:`il2sim.web._app` allows scripts from the
server itself only.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["layout", "model_page", "params_page", "patient_page", "regimens_page", "trial_page", "validation_page"]

_NAV = (("/", "One patient"), ("/trial", "Trial"), ("/validation", "Validation"), ("/params", "Parameters"),
        ("/regimens", "Regimens"), ("/model", "Model"))


def layout(title: str, body: str, *, active: str, banner: str = "", scripts: tuple[str, ...] = ()) -> str:
    """A whole page: navigation, the non-loopback warning banner when there is one, ``body`` and its scripts."""
    from .._version import __version__

    nav = "".join(f'<a href="{href}"{" class=active" if href == active else ""}>{escape(label)}</a>'
                  for href, label in _NAV)
    warn = f'<div class="banner" role="alert" id="banner">{escape(banner)}</div>' if banner else ""
    tags = "".join(f'<script src="{escape(s)}"></script>' for s in scripts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} \u2014 il2sim</title>"
        '<link rel=icon href="data:,"><link rel=stylesheet href="/static/il2sim.css"></head><body>'
        f'<header><span class=brand>il2sim {escape(__version__)}</span><nav>{nav}</nav></header>{warn}'
        f"<main>{body}</main>"
        "<footer>il2sim simulates virtual patients with a research model; it is not a medical device and gives no "
        "treatment advice.</footer>"
        f"{tags}</body></html>"
    )


def _options(choices: Any, selected: str) -> str:
    return "".join(f'<option value="{escape(v)}"{" selected" if v == selected else ""}>{escape(label)}</option>'
                   for v, label in choices)


def _field(name: str, label: str, control: str, hint: str = "") -> str:
    hint_html = f'<small class=hint>{escape(hint)}</small>' if hint else ""
    return (f'<div class=field id="field-{name}"><label for="{name}">{escape(label)}</label>{control}{hint_html}'
            f'<span class=error id="error-{name}" data-for="{name}" role="alert"></span></div>')


def patient_page(*, indications: Any, molecules: Any, regimens: Any, rule_sets: Any, defaults: dict[str, str],
                 blocks_json: str = "{}", units: Any = ()) -> str:
    """The one-patient form, its dose table, the second run of a comparison and the (empty) chart area.

    ``static/patient.js`` runs it. ``blocks_json`` holds each named regimen's dose blocks (JSON, read by the
    script to fill the dose table; a data block, never run); ``units`` the dose units ``(key, label)``.
    """
    text = lambda name, value, mode="decimal": (
        f'<input type=text inputmode={mode} id="{name}" name="{name}" value="{escape(value)}">')
    fields = [
        _field("indication", "Indication", f'<select id=indication name=indication>{_options(indications, "melanoma")}</select>'),
        _field("weight_kg", "Weight (kg)", text("weight_kg", "70"), "20-300 kg; doses per kg use it"),
        _field("nephrectomy", "Nephrectomy", "<select id=nephrectomy name=nephrectomy>" + _options(
            (("", "as the indication (rcc: yes)"), ("yes", "yes"), ("no", "no")), "") + "</select>"),
        _field("lesions", "Target lesions", f'<input type=text inputmode=numeric id=lesions name=lesions value="" '
                                            f'placeholder="{escape(defaults["lesions"])}">', "1-5 (empty: the table's)"),
        _field("lesion_mm", "Lesion diameter (mm)", f'<input type=text inputmode=decimal id=lesion_mm name=lesion_mm value="" '
                                                    f'placeholder="{escape(defaults["lesion_mm"])}">',
               "each lesion, 10-300 mm (empty: the table's)"),
        _field("molecule", "Molecule", f'<select id=molecule name=molecule>{_options(molecules, "aldesleukin")}</select>'),
        _field("regimen", "Regimen", f'<select id=regimen name=regimen>{_options(regimens, "high-dose")}'
                                     '<option value=custom>custom: the dose table below</option></select>',
               "named regimens: see Regimens; custom: edit the dose blocks"),
        _field("rules", "Rule set", f'<select id=rules name=rules>{_options(rule_sets, "pivotal")}</select>',
               "when doses are held or stopped"),
        _field("care", "Supportive care", '<input type=checkbox id=care name=care checked>', "fluids, pressors, ..."),
        _field("holds", "Dose holds", '<input type=checkbox id=holds name=holds checked>', "off: every dose is given"),
        _field("days", "Days", text("days", defaults["days"]), "simulated days (> 0, <= 3650); follow-up = days / 7 weeks"),
    ]
    unit_options = _options(units, "iu_per_kg")
    head = "".join(f"<th>{escape(h)}</th>" for h in (
        "amount", "unit", "route", "infusion (min)", "every (h)", "count", "start day", ""))
    table = (
        '<fieldset id=dose-table hidden><legend>Dose table (custom regimen)</legend>'
        "<p class=hint>One row per dose block, as the <code>[[block]]</code> tables of a scenario file "
        "(<code>il2sim regimens --show high-dose --format toml</code>): <i>count</i> doses of <i>amount</i>, one every "
        "<i>every</i> hours from 00:00 of <i>start day</i>; infusion 0 = bolus (SC: no infusion). Checked by the "
        "CLI's scenario-file parser.</p>"
        f'<table id=blocks><thead><tr>{head}</tr></thead><tbody></tbody></table>'
        f'<template id=block-row><tr class=block><td><input type=text inputmode=decimal data-col=amount size=9></td>'
        f'<td><select data-col=unit>{unit_options}</select></td>'
        '<td><select data-col=route><option value=iv>iv</option><option value=sc>sc</option></select></td>'
        '<td><input type=text inputmode=decimal data-col=infusion_minutes size=5></td>'
        '<td><input type=text inputmode=decimal data-col=every_hours size=5></td>'
        '<td><input type=text inputmode=numeric data-col=count size=5></td>'
        '<td><input type=text inputmode=numeric data-col=start_day size=5></td>'
        '<td><button type=button class="small remove">remove</button></td></tr></template>'
        '<div class=actions><button type=button class=small id=add-block>add a block</button>'
        '<span class=error id="error-blocks" role=alert></span></div></fieldset>'
    )
    b_fields = [
        _field("b_molecule", "Molecule", f'<select id=b_molecule name=b_molecule>{_options(molecules, "aldesleukin")}</select>'),
        _field("b_regimen", "Regimen", f'<select id=b_regimen name=b_regimen>{_options(regimens, "high-dose")}</select>'),
        _field("b_rules", "Rule set", f'<select id=b_rules name=b_rules>{_options(rule_sets, "pivotal")}</select>'),
        _field("b_care", "Supportive care", '<input type=checkbox id=b_care name=b_care checked>'),
        _field("b_holds", "Dose holds", '<input type=checkbox id=b_holds name=b_holds>', "off: every dose is given"),
    ]
    compare = (
        '<div class=compare-toggle><label><input type=checkbox id=compare name=compare> Compare with a second run '
        "(B) of the same patient</label></div>"
        '<fieldset id=run-b hidden><legend>Run B: the same patient, another treatment</legend>'
        "<p class=hint>The patient and the days are the form's; run A is the treatment above (its dose table too). "
        "Both run and are drawn on the same panels: A solid, B dashed.</p>"
        '<div class=fields>' + "".join(b_fields) + "</div></fieldset>"
    )
    body = (
        "<h1>One patient</h1>"
        "<p>The typical patient of an indication, with the covariates you set, on a named regimen or your own dose "
        "blocks under a protocol's rules. The same run as <code>il2sim simulate</code>; tick <i>Compare</i> to run "
        "a second treatment (with and without holds, care, another regimen) and see both on one chart.</p>"
        '<form id=patient-form novalidate><div class=fields>' + "".join(fields) + "</div>" + table + compare +
        '<div class=actions><button type=submit id=run>Run</button><span id=status role=status></span>'
        '<span class=error id="error-form" role="alert"></span></div></form>'
        f'<div id=regimen-blocks hidden data-blocks="{escape(blocks_json)}"></div>'
        '<section id=result hidden><div id=summary></div><div id=downloads></div><div id=comparison></div>'
        "<div id=chart></div></section>"
    )
    return body


def params_page(rows: list[dict[str, str]]) -> str:
    """The parameter table with a search box (``static/params.js`` filters the rows)."""
    cols = ("name", "value", "unit", "evidence", "source", "description")
    head = "".join(f"<th>{c}</th>" for c in cols)
    body_rows = "".join(
        "<tr>" + "".join(f"<td class=col-{c}>{escape(r[c])}</td>" for c in cols) + "</tr>" for r in rows)
    return (
        "<h1>Parameters</h1><p>Every value of the model's parameter table, with its unit, the kind of evidence and "
        "its source (<code>il2sim params</code>). Values that differ by indication are listed after the default.</p>"
        '<p><label for=param-search>Search</label> <input type=search id=param-search placeholder="name, unit, source, '
        'words of the description" autocomplete=off> <span id=param-count></span></p>'
        f'<table id=params><thead><tr>{head}</tr></thead><tbody>{body_rows}</tbody></table>'
    )


def regimens_page(regimens: list[dict[str, Any]]) -> str:
    """The named regimens, with their dose blocks."""
    parts = ["<h1>Named regimens</h1><p>The schedules of <code>il2sim regimens</code>; each is one course, repeated "
             "by the protocol's rules.</p>"]
    for r in regimens:
        blocks = "".join(f"<li>{escape(b)}</li>" for b in r["blocks"])
        parts.append(f'<section class=regimen id="regimen-{escape(r["name"])}"><h2>{escape(r["name"])}</h2>'
                     f'<p class=meta>{r["n_doses"]} doses per course, days 1-{r["last_day"]}</p><ul>{blocks}</ul>'
                     f'<p>{escape(r["description"])}</p></section>')
    return "".join(parts)


def model_page(html_text: str | None) -> str:
    """``docs/model.md`` rendered (trusted text of the package's own repository), or a note when it is absent."""
    if html_text is None:
        return ("<h1>Model</h1><p>docs/model.md is not installed with this copy of il2sim; read it in the "
                "repository's docs/ folder.</p>")
    return f'<article class=markdown id=model-doc>{html_text}</article>'


def trial_page(*, indications: Any, molecules: Any, regimens: list[str], rule_sets: Any, max_patients: int,
               run_dir: str) -> str:
    """The trial form, its progress bar and cancel button, and the (empty) results; ``static/trial.js`` runs it."""
    text = lambda name, value, mode="numeric": (
        f'<input type=text inputmode={mode} id="{name}" name="{name}" value="{escape(value)}">')
    arms = "".join(
        f'<label class=arm><input type=checkbox name=arms value="{escape(r)}"{" checked" if r == "high-dose" else ""}>'
        f" {escape(r)}</label>" for r in regimens)
    fields = [
        _field("arms", "Arms (named regimens)", f"<div class=arms id=arms>{arms}</div>",
               "one arm per regimen ticked, at most 4; every arm treats the same virtual patients"),
        _field("indication", "Indication", f'<select id=indication name=indication>{_options(indications, "melanoma")}</select>'),
        _field("molecule", "Molecule", f'<select id=molecule name=molecule>{_options(molecules, "aldesleukin")}</select>',
               "dosed on every arm"),
        _field("rules", "Rule set", f'<select id=rules name=rules>{_options(rule_sets, "pivotal")}</select>',
               "when doses are held or stopped"),
        _field("care", "Supportive care", '<input type=checkbox id=care name=care checked>', "fluids, pressors, ..."),
        _field("holds", "Dose holds", '<input type=checkbox id=holds name=holds checked>', "off: every dose is given"),
        _field("patients", "Patients per arm", text("patients", "20"),
               f"1-{max_patients} from this page; larger trials: il2sim trial"),
        _field("seed", "Seed", text("seed", "0"), "patient i is the same for the same seed"),
        _field("follow_up_weeks", "Follow-up (weeks)", text("follow_up_weeks", "26", "decimal"),
               "> 0 and <= 520; RECIST scans every 8 weeks"),
    ]
    return (
        "<h1>Virtual trial</h1>"
        "<p>Virtual patients drawn from the calibrated population of an indication, each treated on every arm, as "
        "<code>il2sim trial</code> runs them (the same code). The trial runs in the background on this server, one "
        f"at a time, at most <b>{max_patients} patients per arm</b> from this page. Its directory is an ordinary "
        f"trial directory under <code>{escape(run_dir)}</code>: the command shown below resumes it (after a cancel) "
        "or reads it again from the command line.</p>"
        '<form id=trial-form novalidate><div class=fields>' + "".join(fields) + "</div>"
        '<div class=actions><button type=submit id=run>Run trial</button>'
        '<button type=button id=cancel hidden>Cancel</button>'
        '<progress id=progress max=1 value=0 hidden></progress><span id=status role=status></span>'
        '<span class=error id="error-form" role="alert"></span></div></form>'
        '<p id=resume hidden>Resume or read it from the command line: <code id=resume-command></code></p>'
        '<section id=trials-list hidden><h2>Trials in this server\'s run directory</h2><ul id=trials></ul></section>'
        '<section id=results hidden><h2 id=results-title>Results</h2><div id=trial-downloads></div>'
        "<h3>Response</h3><div id=table-response></div>"
        "<div class=chart id=chart-waterfall></div><div class=chart id=chart-spider></div>"
        "<h3>Survival</h3><div class=chart id=chart-km></div><div id=table-survival></div>"
        "<h3>Toxicity by grade</h3><div class=chart id=chart-toxicity></div><div id=table-toxicity></div>"
        "<h3>Doses</h3><div id=table-doses></div><div class=chart id=chart-doses></div>"
        "</section>"
    )


def validation_page(source: str, results: list[tuple[str, ...]] | None, facts: dict[str, str], problem: str = "") -> str:
    """The validation scorecard of ``il2sim validate``, or how to make one.

    ``results``: per entry (id, kind, published, simulated, verdict, row class, source).
    """
    intro = ("<h1>Validation scorecard</h1><p>The model against the published trials: each entry of the validation "
             "registry, its published value and the simulated one with its 95 % interval, as "
             "<code>il2sim validate</code> scored them (see docs/validation.md).</p>")
    if results is None:
        why = f"<p class=warn id=validation-problem>{escape(problem)}</p>" if problem else ""
        return (intro + why + "<p id=validation-missing>No <code>validation.json</code> here yet. Make one with "
                f"<code>il2sim validate --out {escape(source)}</code> (about an hour on 8 cores for the full registry; "
                "<code>--only calibration --patients 200</code> is quicker), or start the server with "
                "<code>il2sim serve --validation FILE</code>, then reload this page.</p>")
    meta = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts.items())
    rows = "".join(f'<tr class="{escape(c)}"><td>{escape(i)}</td><td>{escape(k)}</td><td>{escape(p)}</td>'
                   f"<td>{escape(m)}</td><td class=source>{escape(src)}</td><td>{escape(v)}</td></tr>"
                   for i, k, p, m, v, c, src in results)
    return (intro + f"<p>From <code>{escape(source)}</code>.</p><table class=meta>{meta}</table>"
            "<table id=scorecard class=results><thead><tr><th>entry</th><th>kind</th><th>published</th>"
            "<th>simulated (95 % interval)</th><th>source</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p class=note>A calibration miss is a failure of the fit (il2sim validate "
            "exits 1); a validation miss is reported: the model disagrees with a trial it was not fitted to.</p>")
