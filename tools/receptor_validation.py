"""Print the receptor-layer validation tables of docs/validation.md (issue 13), measured on the packaged model.

    python tools/receptor_validation.py

Every number is simulated here: the typical patient (table values), every dose
given (no holds, no care, one course) unless said otherwise.
"""

from __future__ import annotations

import numpy as np

from il2sim.engine import simulate_fast
from il2sim.model import derive_constants, signal_ec50, typical_patient
from il2sim.protocol import DoseBlock, GiveAllPolicy, NoTreatmentPolicy, Regimen

PBMC = {"treg": "16-65 pM", "cd4": "950-2,100 pM (memory and other helpers)", "cd8": "2,300-2,800 pM",
        "nk": "1,400-1,700 pM"}


def _kill(p, regimen, policy, days):
    r = simulate_fast(p, regimen, days=days, policy=policy)
    o = r.observables
    kill = float(np.trapezoid(o["tumour_kill_rate_per_day"], r.t) / 24.0)
    fold = {x: float(o[f"{x}_total_1e9"].max() / o[f"{x}_total_1e9"][0]) for x in ("cd8", "nk", "treg")}
    return kill, fold, r


def main() -> None:
    ind = derive_constants(typical_patient("melanoma"))
    blind = derive_constants(typical_patient("melanoma", kd_fold_alpha=1e6))
    print("| cell | resting EC50 (pM) | activated EC50 (pM) | CD25-blind molecule, resting (pM) | human PBMC pSTAT5 EC50 |")
    print("|---|---|---|---|---|")
    for cell in ("treg", "cd4", "cd8", "nk"):
        print(f"| {cell} | {signal_ec50(ind, cell):,.0f} | {signal_ec50(ind, cell, 'activated'):,.0f} | "
              f"{signal_ec50(blind, cell):,.0f} | {PBMC[cell]} |")

    print()
    p = typical_patient("melanoma")
    course = lambda a: Regimen(name="q8h", blocks=(DoseBlock(a, "iv", 15.0, 8.0, 14, 1),  # noqa: E731
                                                   DoseBlock(a, "iv", 15.0, 8.0, 14, 15)))
    untreated, _, _ = _kill(p, course(600_000.0), NoTreatmentPolicy(), 28.0)
    print("| IU/kg q8h, 28 doses | IL-2-attributable kill (log units, 28 days) | relative to 72,000 | CD8 peak x | NK peak x | Treg peak x |")
    print("|---|---|---|---|---|---|")
    ref = None
    for dose in (72_000.0, 180_000.0, 360_000.0, 600_000.0, 720_000.0, 1_200_000.0):
        k, fold, _ = _kill(p, course(dose), GiveAllPolicy(), 28.0)
        ref = ref or (k - untreated)
        print(f"| {dose:,.0f} | {k - untreated:.3f} | {(k - untreated) / ref:.2f} | {fold['cd8']:.2f} | "
              f"{fold['nk']:.2f} | {fold['treg']:.2f} |")

    print()
    p = typical_patient("rcc")
    untreated, _, _ = _kill(p, "high-dose", NoTreatmentPolicy(), 84.0)
    print("| regimen (typical RCC patient, 12 weeks, every dose) | IL-2-attributable kill | CD8 x | NK x | Treg x | lowest SBP without care (mmHg) |")
    print("|---|---|---|---|---|---|")
    for name in ("high-dose", "high-dose-720", "low-dose-iv", "low-dose-sc"):
        k, fold, r = _kill(p, name, GiveAllPolicy(), 84.0)
        print(f"| {name} | {k - untreated:.3f} | {fold['cd8']:.2f} | {fold['nk']:.2f} | {fold['treg']:.2f} | "
              f"{r.observables['sbp_mmhg'].min():.0f} |")

    print()
    p = typical_patient("melanoma")
    print("| SC daily for 8 weeks (70 kg, 1.85 m2) | Treg x at week 4 | CD8 x | NK x | Treg x at week 12 | peak IL-2 (IU/mL) | max temperature (C) |")
    print("|---|---|---|---|---|---|---|")
    for miu_m2 in (0.3, 1.0, 3.0):
        reg = Regimen(name="sc", blocks=(DoseBlock(miu_m2 * 1e6 * 1.85 / 70.0, "sc", 0.0, 24.0, 56, 1),))
        r = simulate_fast(p, reg, days=84, policy=GiveAllPolicy())
        o = r.observables
        i4 = int(np.searchsorted(r.t, 28 * 24.0))
        f = {x: o[f"{x}_total_1e9"] / o[f"{x}_total_1e9"][0] for x in ("treg", "cd8", "nk")}
        print(f"| {miu_m2:g} MIU/m2/day | {f['treg'][i4]:.2f} | {f['cd8'][i4]:.2f} | {f['nk'][i4]:.2f} | "
              f"{f['treg'][-1]:.2f} | {o['aldesleukin_plasma_iu_per_ml'].max():.1f} | {o['temperature_c'].max():.1f} |")

    print()
    print("| molecule (typical melanoma patient, 28 high-dose doses) | CD8 peak x | NK peak x | Treg peak x |")
    print("|---|---|---|---|")
    for label, over in (("aldesleukin", {}), ("kd_fold_alpha = 1000", {"kd_fold_alpha": 1000.0}),
                        ("kd_fold_alpha = 1e6 (CD25-blind)", {"kd_fold_alpha": 1e6})):
        _, fold, _ = _kill(typical_patient("melanoma", **over), course(600_000.0), GiveAllPolicy(), 28.0)
        print(f"| {label} | {fold['cd8']:.2f} | {fold['nk']:.2f} | {fold['treg']:.2f} |")


if __name__ == "__main__":
    main()
