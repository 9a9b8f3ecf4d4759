"""Print the molecule validation table of docs/validation.md (issue 13), measured on the packaged model.

    python tools/molecule_validation.py

The typical melanoma patient (table values) on each molecule's published
schedule, every dose given, no supportive care (so blood pressure shows the
drug's own effect): peak fold change of blood and whole-body CD8, NK and Treg
counts over baseline, the lowest systolic pressure, weight gain, the eosinophil
peak, peak endothelial CD25 occupancy and peak constitutional symptom load.
Nothing in the molecule files was fitted to these numbers.
"""

from __future__ import annotations

import numpy as np

from il2sim.engine import simulate_fast
from il2sim.model import default_model, typical_patient
from il2sim.protocol import NAMED_REGIMENS, DoseBlock, GiveAllPolicy, Regimen

# high-dose aldesleukin's schedule by mass (600,000 IU/kg = 36.6 ug/kg at 16.4 MIU/mg), for molecules without IU
_UG = 600_000.0 / 16.4e6 * 1e3
REGIMENS = dict(NAMED_REGIMENS)
REGIMENS["high-dose-ug"] = Regimen("high-dose-ug", tuple(DoseBlock(_UG, "iv", 15.0, 8.0, 14, d, unit="ug_per_kg")
                                                          for d in (1, 15)))

CASES = (
    ("aldesleukin", "high-dose", 28.0),
    ("aldesleukin", "low-dose-sc", 42.0),
    ("aldesleukin", "ld-treg-1miu-m2", 56.0),
    ("aldesleukin", "ld-treg-3miu-m2", 56.0),
    ("aldesleukin", "ld-treg-saadoun", 14.0),
    ("aldesleukin", "high-dose-ug", 28.0),
    ("cd25-blind-il2", "high-dose-ug", 28.0),
    ("nemvaleukin-like", "nemvaleukin-6ug", 21.0),
    ("bempeg-like", "bempeg-0.006", 21.0),
    ("mdna11-like", "mdna11-30ug", 14.0),
    ("treg-peg-il2-like", "treg-peg-24ug-q2w", 42.0),
)


def run(molecule: str, regimen: str, days: float) -> dict[str, float]:
    p = typical_patient("melanoma", model=default_model().with_molecule(molecule))
    r = simulate_fast(p, REGIMENS[regimen], days=days, policy=GiveAllPolicy())
    o = r.observables
    y = {s: r.state(s) for s in ("cd8_blood", "nk_blood", "treg_blood", "cd4_blood", "eos_blood")}
    out = {f"{x}_blood_x": float(y[f"{x}_blood"].max() / y[f"{x}_blood"][0]) for x in ("cd8", "nk", "treg")}
    out |= {f"{x}_total_x": float(o[f"{x}_total_1e9"].max() / o[f"{x}_total_1e9"][0]) for x in ("cd8", "nk", "treg", "cd4")}
    out["sbp_min"] = float(o["sbp_mmhg"].min())
    out["weight_gain_pct"] = float(100 * (o["weight_kg"].max() / o["weight_kg"][0] - 1))
    out["eos_peak"] = float(y["eos_blood"].max())
    out["cd25_endo"] = float(o["endothelial_cd25_occupancy"].max())
    out["symptoms"] = float(r.state("symptom_load").max())
    out["free_drug_pm"] = float(o["drug_plasma_pm"].max())
    return out


def main() -> None:
    print("| molecule | schedule | days | CD8 blood x (body) | NK blood x (body) | Treg blood x (body) | lowest SBP, no care (mmHg) |"
          " weight gain % | eosinophil peak /uL | endothelial CD25 occupancy | symptom load | peak free drug (pM) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mol, reg, days in CASES:
        m = run(mol, reg, days)
        print(f"| {mol} | {reg} | {days:g} | {m['cd8_blood_x']:.2f} ({m['cd8_total_x']:.2f}) | {m['nk_blood_x']:.2f} "
              f"({m['nk_total_x']:.2f}) | {m['treg_blood_x']:.2f} ({m['treg_total_x']:.2f}) | {m['sbp_min']:.0f} | "
              f"{m['weight_gain_pct']:.1f} | {m['eos_peak']:,.0f} | {m['cd25_endo']:.3f} | {m['symptoms']:.2f} | "
              f"{m['free_drug_pm']:,.0f} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
