"""Virtual populations: per-patient streams, variability from the table, counted filters."""

import dataclasses
import math

import numpy as np
import pytest

from il2sim import UserError
from il2sim.model import load_table
from il2sim.population import Filter, PopulationSpec, draw_patient, sample_population

NO_FILTERS = PopulationSpec(filters=(), source="prior")


def _key(p):
    return (dict(p.parameters), p.covariates)


def test_patient_i_is_the_same_whatever_the_population_size_or_order():
    spec = PopulationSpec("rcc", source="prior")
    small, _ = sample_population(spec, 5, seed=11)
    large, _ = sample_population(spec, 40, seed=11)
    out_of_order, _ = sample_population(spec, 2, seed=11, patient_ids=[37, 3])
    assert _key(small[3]) == _key(large[3]) == _key(out_of_order[1])
    assert _key(large[37]) == _key(out_of_order[0])
    assert large[3].patient_id == 3


def test_different_seeds_and_ids_give_different_patients():
    a = draw_patient(NO_FILTERS, 0, 0).patient
    b = draw_patient(NO_FILTERS, 1, 0).patient
    c = draw_patient(NO_FILTERS, 0, 1).patient
    assert _key(a) != _key(b) and _key(a) != _key(c)


def test_log_normal_variability_matches_the_table():
    n = 3000
    patients, _ = sample_population(NO_FILTERS, n, seed=3)
    row = load_table()["cl_linear"]
    x = np.log([p.parameters["cl_linear"] for p in patients])
    sigma = math.sqrt(math.log1p(row.variability.cv ** 2))
    assert np.exp(np.median(x)) == pytest.approx(row.value, rel=0.03)  # the typical value is the median
    assert np.std(x) == pytest.approx(sigma, rel=0.05)
    # parameters without variability are never overridden
    assert all("kd_high" not in p.parameters for p in patients[:50])


def test_covariates_follow_the_spec():
    rcc, _ = sample_population(dataclasses.replace(NO_FILTERS, indication="rcc"), 2000, seed=5)
    mel, _ = sample_population(NO_FILTERS, 300, seed=5)
    assert np.mean([p.covariates.nephrectomy for p in rcc]) == pytest.approx(0.9, abs=0.03)
    assert not any(p.covariates.nephrectomy for p in mel)
    counts = np.bincount([len(p.lesion_diameters()) for p in rcc], minlength=6)[1:] / len(rcc)
    np.testing.assert_allclose(counts, NO_FILTERS.lesion_count_probabilities, atol=0.03)
    assert np.median([p.covariates.weight_kg for p in rcc]) == pytest.approx(78.0, rel=0.03)


def test_variability_scale_zero_gives_typical_parameters():
    spec = dataclasses.replace(NO_FILTERS, variability_scale=0.0)
    p = draw_patient(spec, 0, 4).patient
    table = load_table()
    assert all(value == table[name].value_for("melanoma") for name, value in p.parameters.items())


def test_filters_are_applied_inside_the_patient_stream_and_counted():
    heavy = Filter("heavy", "weight at least 78 kg", lambda p: p.covariates.weight_kg >= 78.0)
    spec = dataclasses.replace(NO_FILTERS, filters=(heavy,))
    patients, rejections = sample_population(spec, 60, seed=2)
    assert all(p.covariates.weight_kg >= 78.0 for p in patients)
    assert rejections["heavy"] > 0
    # still independent of the population size
    assert _key(sample_population(spec, 8, seed=2)[0][7]) == _key(patients[7])


def test_default_filters_accept_nearly_everyone_and_leave_physical_patients():
    from il2sim.model import derive_constants

    patients, rejections = sample_population(PopulationSpec("melanoma", source="prior"), 40, seed=0)
    assert sum(rejections.values()) <= 4
    for p in patients[:10]:
        derive_constants(p)


def test_impossible_filters_and_bad_inputs_raise_user_errors():
    never = Filter("never", "rejects everything", lambda p: False)
    with pytest.raises(UserError, match="population"):
        draw_patient(dataclasses.replace(NO_FILTERS, filters=(never,), max_draws=3), 0, 0)
    with pytest.raises(UserError, match="^seed: "):
        draw_patient(NO_FILTERS, -1, 0)
    with pytest.raises(UserError, match="^n_patients: "):
        sample_population(NO_FILTERS, 0)
    with pytest.raises(UserError, match="^indication: "):
        PopulationSpec("glioma")
    with pytest.raises(UserError, match="lesion_count_probabilities"):
        PopulationSpec(lesion_count_probabilities=(1.0,), source="prior")


def test_drawn_patients_simulate_under_the_protocol():
    from il2sim.engine import simulate
    from il2sim.protocol import NAMED_REGIMENS, make_policy

    patients, _ = sample_population(PopulationSpec("rcc", source="prior"), 3, seed=7)
    for p in patients:
        res = simulate(p, NAMED_REGIMENS["high-dose"], days=21, policy=make_policy("pivotal"))
        assert res.success, res.message
        assert res.observables["weight_kg"][0] == pytest.approx(p.covariates.weight_kg)


def test_a_prior_draw_carries_what_its_steady_state_filter_derived():
    """The filter's derivation is kept, so a trial derives each patient once; it is the engine's own input."""
    import numpy as np

    from il2sim.model import derive_constants
    from il2sim.population import PopulationSpec, draw_patient

    d = draw_patient(PopulationSpec("melanoma", source="prior"), 3, 17)
    assert d.individual is not None and d.individual.patient is d.patient
    again = derive_constants(d.patient)
    assert d.individual.p == again.p
    np.testing.assert_array_equal(d.individual.y_baseline, again.y_baseline)
    np.testing.assert_array_equal(d.individual.y_run_in_start, again.y_run_in_start)
    assert draw_patient(PopulationSpec("melanoma"), 3, 17).individual is None  # calibrated: no filter ran
