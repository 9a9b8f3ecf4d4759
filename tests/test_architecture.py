"""The seams: the model hash covers every number-setting input, layers import only downward, values pickle."""

import ast
import pickle
from importlib import resources
from pathlib import Path

import pytest

from il2sim.model import Model, default_model
from il2sim.model._model import NUMERIC_CODE, hash_model, numeric_code_sources

SRC = Path(resources.files("il2sim"))

#: The layers, lowest first; a module may import its own layer and those below it only.
LAYERS = [
    {"_errors", "_version", "_files", "_json"},
    {"model"},
    {"protocol"},
    {"engine"},
    {"population"},
    {"analysis"},
    {"trial"},
    {"calibration"},
    {"io", "report", "plot", "_docs", "validation"},  # the outputs: files, figures, reports, docs, the validation scorecard
    {"cli", "__main__", "web"},  # the front ends; web reuses the CLI's option checks, cli's `serve` imports il2sim.web lazily
]
RANK = {name: k for k, layer in enumerate(LAYERS) for name in layer}


def _layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path, module: str) -> set[str]:
    """il2sim modules imported anywhere in ``path`` (module level and inside functions)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("il2sim"):
                out.add(target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("il2sim")}
    return out


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def test_layers_import_only_downward():
    bad = []
    for path, module in _modules():
        me = _layer_of(module)
        if me == "__init__":
            continue
        for target in _imports(path, module):
            other = _layer_of(target)
            if other in ("__init__", me):
                continue
            if RANK[other] > RANK[me]:
                bad.append(f"{module} imports {target}")
    assert not bad, bad


def test_the_web_layer_uses_no_private_name_of_another_layer():
    """il2sim.web may import the CLI's shared job functions and lower layers, never their private names."""
    bad = []
    for path, module in _modules():
        if _layer_of(module) != "web":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module not in ("_errors", "_version"):
                bad += [f"{module}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad


def test_the_module_import_graph_has_no_cycle():
    graph = {module: {t for t in _imports(path, module)} for path, module in _modules()}
    names = set(graph)
    # a package import reaches its __init__; ``from .x import y`` may name a submodule or a symbol
    edges = {m: {t for t in ts if t in names and t != m} for m, ts in graph.items()}
    # package __init__ files re-export their own submodules: those edges are not a layering cycle
    edges = {m: {t for t in ts if not (t.startswith(m + ".") and m.count(".") == 1)} for m, ts in edges.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_engines_do_not_import_each_other():
    for name, other in (("_fast", "_scipy"), ("_scipy", "_fast")):
        imported = _imports(SRC / "engine" / f"{name}.py", f"il2sim.engine.{name}")
        assert f"il2sim.engine.{other}" not in imported


# --------------------------------------------------------------------- hash

def _bump_constant(source: str, function: str | None = None) -> str:
    """``source`` with its first numeric constant (inside ``function`` if named) times 1.5 (0 becomes 0.5).

    A file with no number in it (a code generator) gets its first one-line string changed instead.
    """
    tree = ast.parse(source)
    scope = tree
    if function is not None:
        scope = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    constants = [n for n in ast.walk(scope) if isinstance(n, ast.Constant) and n.lineno == n.end_lineno]
    numbers = [n for n in constants if type(n.value) in (int, float)]
    strings = [n for n in constants if isinstance(n.value, str) and n.value.strip() and "\n" not in n.value]
    if numbers:
        node, text = numbers[0], repr(numbers[0].value * 1.5 if numbers[0].value else 0.5)
    elif strings:
        node, text = strings[0], repr(strings[0].value + " ")
    else:
        raise AssertionError("no constant found")
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    lines[node.lineno - 1] = line[: node.col_offset] + text + line[node.end_col_offset:]
    return "".join(lines)


def _hash_with(path: str, text: str) -> str:
    model = default_model()
    code = dict(numeric_code_sources())
    code[path] = text
    return hash_model(model.compiled, model.table, code)


def test_the_hash_is_the_hash_of_its_parts():
    model = default_model()
    assert model.hash == hash_model(model.compiled, model.table, numeric_code_sources())
    assert set(NUMERIC_CODE) == set(numeric_code_sources())


@pytest.mark.parametrize("path", NUMERIC_CODE)
def test_a_changed_constant_in_number_setting_code_changes_the_hash(path):
    text = numeric_code_sources()[path]
    function = "derive_constants" if path == "model/_patient.py" else None
    assert _hash_with(path, _bump_constant(text, function)) != default_model().hash


def test_the_kernel_template_is_covered():
    """A Rodas4 tableau coefficient (module level in the integrator template) changes the hash."""
    text = numeric_code_sources()["engine/_rodas_kernel.py"]
    assert "C41 = " in text
    assert _hash_with("engine/_rodas_kernel.py", text.replace("C41 = ", "C41 = 1.5 * ", 1)) != default_model().hash


def test_comments_and_docstrings_leave_the_hash_alone():
    path = "model/_patient.py"
    text = numeric_code_sources()[path]
    edited = text.replace('"""Compute the per-patient constants', '"""Compute (reworded) the per-patient constants', 1)
    edited = edited.replace("\n    cm = patient.model.compiled\n", "\n    # a new comment\n    cm = patient.model.compiled\n", 1)
    assert edited != text
    assert _hash_with(path, edited) == default_model().hash


def test_a_table_value_or_the_declaration_changes_the_hash():
    import dataclasses

    model = default_model()
    assert model.with_values({"kd_fold_alpha": 1000.0}).hash != model.hash
    assert model.with_values({}).hash == model.hash
    other = dataclasses.replace(model.compiled, rhs_source=model.compiled.rhs_source.replace("*", " * ", 1))
    assert hash_model(other, model.table, numeric_code_sources()) != model.hash


# --------------------------------------------------------------------- values

def test_models_pickle_by_value_and_compare_by_hash():
    model = default_model()
    assert pickle.loads(pickle.dumps(model)) is model
    variant = model.with_values({"kd_fold_alpha": 1000.0}, label="cd25-blind")
    back = pickle.loads(pickle.dumps(variant))
    assert isinstance(back, Model) and back == variant and back.hash == variant.hash and back != model
    assert back.table["kd_fold_alpha"].value == 1000.0 and back.overrides == (("kd_fold_alpha", 1000.0),)
    assert back.compiled is model.compiled  # the same declaration: the generated code is shared


def test_a_patient_carries_its_model_into_the_run():
    from il2sim.engine import simulate
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS

    variant = default_model().with_values({"kd_fold_alpha": 1000.0})
    p = typical_patient("melanoma", model=variant)
    assert p.values()["kd_fold_alpha"] == 1000.0
    assert typical_patient("melanoma").values()["kd_fold_alpha"] != 1000.0  # the packaged model is untouched
    r = simulate(p, NAMED_REGIMENS["high-dose"], days=1, engine="fast")
    assert r.provenance["model"]["hash"] == variant.hash
    assert r.provenance["model"]["overrides"] == {"kd_fold_alpha": 1000.0}


def test_rule_sets_and_care_are_injectable_and_shipped_sets_pickle_by_name():
    from il2sim.protocol import RULE_SETS, ClinicalProtocol, Rule, RuleSet, SupportiveCare

    assert pickle.loads(pickle.dumps(RULE_SETS["pivotal"])) is RULE_SETS["pivotal"]
    mine = RuleSet("mine", (Rule("sbp_below_80", "mine", "SBP < 80 mmHg", "test", "hold",
                                 check=lambda obs: obs.values["sbp_mmhg"] < 80.0),))
    orders = SupportiveCare(maintenance_ml_h=50.0)
    protocol = ClinicalProtocol(rules=mine, care=orders)
    assert protocol.rules is mine and protocol.care is orders and protocol.name == "mine,custom-care"
    assert ClinicalProtocol(care=False).care is None and ClinicalProtocol(care=True).care == SupportiveCare()
    assert ClinicalProtocol(rules="consensus").rules is RULE_SETS["consensus"]


def test_the_engine_registry_is_the_one_place_engines_are_named():
    from il2sim import UserError
    from il2sim.engine import ENGINES, FastSettings, SolverSettings, get_engine, resolve_engine

    assert tuple(ENGINES) == ("fast", "scipy")
    assert resolve_engine(None, FastSettings())[0].name == "fast"
    assert resolve_engine(None, SolverSettings())[0].name == "scipy"
    assert resolve_engine("fast")[1] == FastSettings()
    with pytest.raises(UserError, match="^engine: got 'gpu'"):
        get_engine("gpu")
    with pytest.raises(TypeError):
        resolve_engine("fast", SolverSettings())
