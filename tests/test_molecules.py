"""Molecules as inputs: files, the shipped library, PK from half-lives, prodrug release, dose units, trials, SBML.

References are analytic: the two-compartment terminal slope, the Erlang release chain, Mosteller's formula and
the mass/IU arithmetic of the label; libroadrunner on the exported SBML for a prodrug dosed in ug/kg.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest

from il2sim import UserError
from il2sim.cli import main
from il2sim.engine import simulate, simulate_fast
from il2sim.model import (
    MOLECULE_KEYS,
    Molecule,
    body_surface_area,
    default_model,
    derive_constants,
    load_molecule,
    resolve_molecule,
    shipped_molecules,
    typical_patient,
)
from il2sim.protocol import NAMED_REGIMENS, DoseBlock, GiveAllPolicy, Regimen, load_scenario
from il2sim.trial import Arm, TrialSpec

SHIPPED = ("aldesleukin", "cd25-blind-il2", "bempeg-like", "nemvaleukin-like", "mdna11-like", "treg-peg-il2-like")
# no receptor-mediated clearance and no GFR dependence: linear PK whose half-life is the molecule's
LINEAR = dict(k_internalization=0.0, drug_fraction_renal=0.0)


def _bolus(amount: float, unit: str = "ug_per_kg") -> Regimen:
    return Regimen(name="bolus", blocks=(DoseBlock(amount, "iv", 0.0, 24.0, 1, 1, unit=unit),))


# ---------------------------------------------------------------- the library and the files
def test_library_is_the_issue_list_and_every_number_has_a_source():
    lib = shipped_molecules()
    assert tuple(lib) == SHIPPED
    refs = default_model().table.references
    for name, mol in lib.items():
        assert mol.name == name and mol.description
        for key in MOLECULE_KEYS:
            if key in ("name", "description", "receptor_mediated_clearance") or getattr(mol, key) is None \
                    or (key == "release_steps" and not mol.is_prodrug):
                continue
            src = mol.sources.get(key)
            assert src is not None, f"{name}.{key} has no source"
            assert src.source in refs, f"{name}.{key}: {src.source} is not in references.toml"
            assert src.evidence in ("retrieved", "derived", "recalled", "assumption", "definition")
            if src.evidence in ("assumption", "recalled", "derived") and name != "aldesleukin":
                assert src.note, f"{name}.{key}: an {src.evidence} value needs a note"


def test_aldesleukin_is_the_table_itself():
    model = default_model()
    same = model.with_molecule("aldesleukin")
    assert same.hash == model.hash and same.overrides == ()
    assert shipped_molecules()["aldesleukin"].table_values(model.table) == {}


def test_molecule_models_pickle_and_hash_by_molecule():
    model = default_model().with_molecule("bempeg-like")
    back = pickle.loads(pickle.dumps(model))
    assert back.hash == model.hash and back.molecule == model.molecule
    assert back.molecule.sources["release_steps"].source == "Charych2017"
    assert len({default_model().with_molecule(m).hash for m in SHIPPED}) == len(SHIPPED)
    with pytest.raises(UserError, match="still dosing aldesleukin"):
        model.with_molecule("mdna11-like")


def test_a_molecule_file_round_trips_and_bare_numbers_are_user_values(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\nmolecular_weight_kda = 40\ncd25_kd_fold = 1e6\ncd122_kd_fold = 0.5\n'
                 'half_life_h = { value = 12, source = "my lab", evidence = "retrieved" }\n'
                 'release_half_life_h = 3\nrelease_steps = 2\nreceptor_mediated_clearance = false\n')
    m = load_molecule(f)
    assert (m.name, m.half_life_h, m.release_steps, m.receptor_mediated_clearance) == ("mine", 12.0, 2, False)
    assert m.sources["half_life_h"].source == "my lab" and "cd25_kd_fold" not in m.sources
    assert resolve_molecule(str(f)) == m
    assert Molecule.from_dict({k: v for k, v in m.to_dict().items() if k != "sources"}, source="x") == m
    values = m.table_values(default_model().table)
    assert values["drug_receptor_clearance"] == 0.0 and values["release_steps"] == 2.0
    assert values["prodrug_release_rate"] == pytest.approx(math.log(2) / 3)


@pytest.mark.parametrize(("text", "field", "expected"), [
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 1\ncd122_kd_fold = 1\n', "x.toml: half_life_h", "required"),
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 1\ncd122_kd_fold = 1\nhalf_life_h = 2\nhalflife = 3\n',
     "x.toml: halflife", "no such key"),
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 0\ncd122_kd_fold = 1\nhalf_life_h = 2\n',
     "x.toml: cd25_kd_fold", ">= 0.0001"),
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 1\ncd122_kd_fold = 1\nhalf_life_h = 2\nrelease_steps = 2\n',
     "x.toml: release_steps", "release_half_life_h"),
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 1\ncd122_kd_fold = 1\nhalf_life_h = 2\n'
     'release_half_life_h = 1\nrelease_steps = 5\n', "x.toml: release_steps", "1 to 4"),
    ('name = "x"\nmolecular_weight_kda = 15\ncd25_kd_fold = 1\ncd122_kd_fold = 1\nhalf_life_h = { value = 2, evidence = "hunch" }\n',
     "x.toml: half_life_h.evidence", "one of"),
    ('name = "x"\nmolecular_weight_kda = "big"\ncd25_kd_fold = 1\ncd122_kd_fold = 1\nhalf_life_h = 2\n',
     "x.toml: molecular_weight_kda", "finite number"),
])
def test_bad_molecule_files_are_one_error_naming_the_key(tmp_path, text, field, expected):
    f = tmp_path / "x.toml"
    f.write_text(text)
    with pytest.raises(UserError) as exc:
        load_molecule(f)
    assert exc.value.field == field and expected in exc.value.expected


def test_a_half_life_shorter_than_the_distribution_allows_is_refused():
    m = Molecule("fast", 15.3, 1.0, 1.0, 0.5)
    with pytest.raises(UserError) as exc:
        m.table_values(default_model().table)
    assert exc.value.field == "half_life_h" and "longer than" in exc.value.expected


# ---------------------------------------------------------------- pharmacokinetics from the molecule
@pytest.mark.parametrize("name", ["nemvaleukin-like", "mdna11-like", "treg-peg-il2-like"])
def test_terminal_half_life_is_the_molecule_s(name):
    """Analytic: with linear clearance only, the log-linear terminal slope of plasma drug is ln 2 / half_life_h."""
    mol = shipped_molecules()[name]
    p = typical_patient("melanoma", model=default_model().with_molecule(mol), **LINEAR)
    t_end = 12 * mol.half_life_h
    r = simulate(p, _bolus(10.0), days=t_end / 24.0 + 1.0, policy=GiveAllPolicy(), run_in=False,
                 output_step_h=0.25 if t_end < 100 else 1.0)
    c = r.observables["drug_plasma_pm"]
    i, j = np.searchsorted(r.t, [6 * mol.half_life_h, 10 * mol.half_life_h])
    slope = (math.log(c[j]) - math.log(c[i])) / (r.t[j] - r.t[i])
    assert math.log(2) / -slope == pytest.approx(mol.half_life_h, rel=2e-3)


def test_prodrug_release_is_an_erlang_chain():
    """Analytic: a bolus D into stage n of n stages, each left at k (release) + e (elimination):
    total prodrug = D exp(-(k+e) t) sum_{j<n} (k t)^j / j!."""
    mol = shipped_molecules()["bempeg-like"]
    p = typical_patient("melanoma", model=default_model().with_molecule(mol), **LINEAR)
    ind = derive_constants(p)
    k, e = ind.param("prodrug_release_rate"), ind.param("prodrug_elimination_rate")
    n = mol.release_steps
    r = simulate(p, _bolus(6.0), days=3.0, policy=GiveAllPolicy(), run_in=False)
    dose = p.dose_amount(6.0, "ug_per_kg")
    total = sum(r.state(f"prodrug_{s}") for s in range(1, 5))
    t = r.t
    ref = dose * np.exp(-(k + e) * t) * sum((k * t) ** j / math.factorial(j) for j in range(n))
    big = ref > 1e-6 * dose
    np.testing.assert_allclose(total[big], ref[big], rtol=1e-5)
    assert r.state("drug_central")[0] == 0.0 and r.state("drug_central").max() > 0  # active drug comes by release
    assert np.all(r.state(f"prodrug_{n + 1}") == 0.0) if n < 4 else True


def test_a_cd25_blind_molecule_signals_through_beta_gamma_and_spares_endothelial_cd25():
    model = default_model().with_molecule("cd25-blind-il2")
    ind = derive_constants(typical_patient("melanoma", model=model))
    # analytic: 1/Kd = (1/kd_high - 1/kd_intermediate) / 1e6 + 1/kd_intermediate (the CD25 route all but gone)
    kh, ki = ind.param("kd_high"), ind.param("kd_intermediate")
    assert ind.param("kd_high_drug") == pytest.approx(1.0 / ((1 / kh - 1 / ki) / 1e6 + 1 / ki), rel=1e-12)
    assert ind.param("kd_high_drug") == pytest.approx(ki, rel=1e-3)
    r = simulate_fast(typical_patient("melanoma", model=model), _bolus(36.6), days=1.0, policy=GiveAllPolicy())
    assert r.observables["endothelial_cd25_occupancy"].max() < 1e-3
    assert r.observables["nk_signal_complexes"].max() > 0.3 * ind.param("nk_cd122")


# ---------------------------------------------------------------- dose units
def test_dose_units_convert_by_mass_iu_and_body_surface_area():
    p = typical_patient("melanoma", weight_kg=80.0, height_cm=180.0)
    assert body_surface_area(80.0, 180.0) == pytest.approx(2.0)  # sqrt(180 * 80 / 3600)
    assert p.dose_amount(600_000.0) == 600_000.0 * 80.0  # IU/kg of aldesleukin is the model amount, exactly
    assert p.dose_amount(1.0, "ug_per_kg") == pytest.approx(16_400.0 * 80.0, rel=1e-12)  # 18 MIU = 1.1 mg
    assert p.dose_amount(1.0, "miu_per_m2") == pytest.approx(2.0e6, rel=1e-12)
    assert p.dose_amount(3.0, "miu") == pytest.approx(3.0e6, rel=1e-12)
    assert p.dose_mg(18.0, "miu") == pytest.approx(18e6 / 16.4e6, rel=1e-12)  # the label: 18 MIU = 1.1 mg
    assert p.dose_mg(18.0, "miu") == pytest.approx(1.1, rel=3e-3)  # (16.4 MIU/mg is 18 / 1.1 rounded)
    # a heavier molecule: the same mass is fewer molecules (model amounts count molecules)
    big = typical_patient("melanoma", weight_kg=80.0, model=default_model().with_molecule("mdna11-like"))
    assert big.dose_amount(1.0, "ug_per_kg") == pytest.approx(p.dose_amount(1.0, "ug_per_kg") * 15.3 / 76.5)
    with pytest.raises(UserError) as exc:
        big.dose_amount(600_000.0, "iu_per_kg")
    assert exc.value.field == "amount_iu_per_kg" and "ug/kg" in exc.value.expected


def test_scenario_blocks_take_exactly_one_amount_key(tmp_path):
    f = tmp_path / "ug.toml"
    f.write_text('[[block]]\namount_ug_per_kg = 6\nroute = "iv"\ninfusion_minutes = 30\nevery_hours = 24\n'
                 'count = 5\nstart_day = 1\n')
    reg = load_scenario(f)
    assert reg.blocks[0].unit == "ug_per_kg" and reg.to_dict()["block"][0]["amount_ug_per_kg"] == 6.0
    again = tmp_path / "again.toml"
    again.write_text(reg.to_toml())
    assert load_scenario(again).blocks == reg.blocks
    both = tmp_path / "both.toml"
    both.write_text('[[block]]\namount_ug_per_kg = 6\namount_miu = 1\nroute = "sc"\nevery_hours = 24\ncount = 1\n'
                    'start_day = 1\n')
    with pytest.raises(UserError) as exc:
        load_scenario(both)
    assert "exactly one of" in exc.value.expected
    with pytest.raises(UserError, match="amount_miu_per_m2"):
        DoseBlock(1e5, "sc", 0.0, 24.0, 1, 1, unit="miu_per_m2")


def test_per_m2_doses_follow_height():
    short = simulate_fast(typical_patient("melanoma", height_cm=150.0), NAMED_REGIMENS["ld-treg-1miu-m2"], days=2.0,
                          policy=GiveAllPolicy())
    tall = simulate_fast(typical_patient("melanoma", height_cm=200.0), NAMED_REGIMENS["ld-treg-1miu-m2"], days=2.0,
                         policy=GiveAllPolicy())
    d_short = short.state("drug_sc_depot")[0]
    assert d_short == pytest.approx(1e6 * body_surface_area(70.0, 150.0), rel=1e-12)
    assert tall.state("drug_sc_depot")[0] / d_short == pytest.approx(math.sqrt(200.0 / 150.0), rel=1e-12)


# ---------------------------------------------------------------- the command line
def test_simulate_a_molecule_file_dosed_in_ug_per_kg(tmp_path, capsys):
    mol = tmp_path / "mymol.toml"
    mol.write_text('name = "mymol"\nmolecular_weight_kda = 30\ncd25_kd_fold = 1e6\ncd122_kd_fold = 0.3\nhalf_life_h = 8\n')
    reg = tmp_path / "myreg.toml"
    reg.write_text('[[block]]\namount_ug_per_kg = 5\nroute = "iv"\ninfusion_minutes = 30\nevery_hours = 24\n'
                   'count = 3\nstart_day = 1\n')
    out = tmp_path / "run"
    assert main(["simulate", "--molecule", str(mol), "--regimen", str(reg), "--days", "5", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["provenance"]["molecule"]["name"] == "mymol"
    pk = summary["pk"]  # the peak in the molecule's own units: molar and by its 30 kDa mass
    assert pk["cmax_ng_per_ml"] == pytest.approx(pk["cmax_pm"] * 30_000.0 * 1e-6, rel=1e-12)
    assert pk["cmax_pm"] == pytest.approx(pk["cmax_iu_per_ml"] * 1e12 / (16.4e6 * 15_300.0), rel=1e-12)
    doses = pd.read_csv(out / "doses.csv")
    assert list(doses["amount_unit"]) == ["ug_per_kg"] * 3 and doses["amount_iu_per_kg"].isna().all()
    assert doses["amount_mg"].iloc[0] == pytest.approx(5e-3 * 70.0)
    assert doses["amount_nmol"].iloc[0] == pytest.approx(5e-3 * 70.0 / 30_000.0 * 1e6)
    tc = pd.read_parquet(out / "timecourse.parquet")
    assert {"drug_plasma_pm", "drug_plasma_ng_per_ml", "cd8_blood", "cd8_total_1e9", "eosinophils_per_ul"} <= set(tc)


def test_cli_molecule_errors_are_one_line(tmp_path, capsys):
    assert main(["simulate", "--molecule", "nope", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --molecule: got 'nope'") and "aldesleukin" in err[0]
    assert main(["simulate", "--molecule", "mdna11-like", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "high-dose: block[1].amount_iu_per_kg" in err[0] and "ug/kg" in err[0]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["trial", "--regimen", "high-dose", "--regimen", "low-dose-iv", "--molecule", "aldesleukin",
                 "--molecule", "aldesleukin", "--molecule", "aldesleukin", "--out", str(tmp_path / "c")]) == 2
    assert "one per --regimen" in capsys.readouterr().err


def test_molecules_command_lists_the_library(capsys):
    assert main(["molecules"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == list(SHIPPED)
    assert main(["molecules", "--show", "mdna11-like"]) == 0
    assert "Medicenna_e14546" in capsys.readouterr().out


def test_a_trial_compares_two_molecules_on_the_same_patients(tmp_path):
    spec = TrialSpec(indication="melanoma", n_patients=3, follow_up_weeks=4, arms=(
        Arm("high-dose"), Arm("nemvaleukin-6ug", molecule="nemvaleukin-like")))
    a, b = spec.arms
    assert spec.arm_model(a).molecule.name == "aldesleukin" and spec.arm_model(b).molecule.name == "nemvaleukin-like"
    pa, pb = spec.arm_patient(a, spec.draw(1)), spec.arm_patient(b, spec.draw(1))
    assert dict(pa.parameters) == dict(pb.parameters) and pa.covariates == pb.covariates  # the same patient
    assert spec.manifest_inputs()["molecules"]["nemvaleukin-6ug"]["name"] == "nemvaleukin-like"
    with pytest.raises(UserError) as exc:
        TrialSpec(arms=(Arm("high-dose", molecule="mdna11-like"),))
    assert exc.value.field == "arms[0].molecule"
    assert exc.value.received == "mdna11-like on high-dose: block[1].amount_iu_per_kg = 600000.0"
    assert "ug/kg" in exc.value.expected
    out = tmp_path / "t"
    assert main(["trial", "--patients", "2", "--follow-up-weeks", "3", "--workers", "1", "--regimen", "high-dose",
                 "--regimen", "high-dose", "--molecule", "aldesleukin", "--molecule", "cd25-blind-il2",
                 "--out", str(out)]) == 2  # cd25-blind-il2 has no IU: high-dose cannot dose it
    reg = tmp_path / "hd-ug.toml"
    reg.write_text("".join(f'[[block]]\namount_ug_per_kg = 36.6\nroute = "iv"\ninfusion_minutes = 15\nevery_hours = 8\n'
                           f'count = 14\nstart_day = {d}\n' for d in (1, 15)))
    assert main(["trial", "--patients", "2", "--follow-up-weeks", "3", "--workers", "1", "--regimen", str(reg),
                 "--regimen", str(reg), "--molecule", "aldesleukin", "--molecule", "cd25-blind-il2",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["arms"]) == {"aldesleukin:hd-ug", "cd25-blind-il2:hd-ug"}
    rows = pd.read_parquet(out / "patients.parquet")
    assert sorted(rows["arm"].unique()) == ["aldesleukin:hd-ug", "cd25-blind-il2:hd-ug"]


# ---------------------------------------------------------------- SBML: libroadrunner as the peer
def test_sbml_export_of_a_prodrug_dosed_in_ug_per_kg_matches_the_reference_engine():
    """bempeg-like (four release stages, the dose entering stage 4) on two 15-min infusions of 6 ug/kg, 3 days."""
    from il2sim.io import export_sbml
    from test_sbml import TIGHT_LSODA, assert_conforms

    individual = derive_constants(typical_patient("melanoma", model=default_model().with_molecule("bempeg-like")))
    regimen = Regimen(name="two", blocks=(DoseBlock(6.0, "iv", 15.0, 36.0, 2, 1, unit="ug_per_kg"),))
    sbml = export_sbml(individual, regimen, solver=TIGHT_LSODA)
    assert 'molecule="bempeg-like"' in sbml and "6 ug/kg" in sbml
    ref = simulate(individual, regimen, days=3, policy=GiveAllPolicy(), solver=TIGHT_LSODA)
    assert ref.state("prodrug_4").max() > 0 and ref.state("prodrug_1").max() > 0
    assert_conforms(sbml, ref, individual)
