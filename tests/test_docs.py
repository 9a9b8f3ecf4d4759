"""Documentation generated from the code stays true to it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_model_doc_is_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "render_docs.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_readme_gives_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_scenario_file_loads(tmp_path):
    import re

    from il2sim.protocol import load_scenario

    block = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block is not None
    f = tmp_path / "my-schedule.toml"
    f.write_text(block.group(1))
    reg = load_scenario(f)
    assert reg.name == "my-schedule" and reg.n_doses == 77 and {b.route for b in reg.blocks} == {"iv", "sc"}
