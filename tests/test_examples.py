"""The README's "plug in your encoder" example is a real subject that mmgate approves."""

from pathlib import Path

from tests.plugin_support import assert_verified, run_gates

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "grid_subject.py"


def test_grid_subject_example_is_approved(pytester):
    pytester.makepyfile(grid_subject=EXAMPLE.read_text("utf-8"))
    run = run_gates(pytester, "--mmgate-subject", "grid_subject:make_subject")
    assert run.decision == "APPROVE", run.output
    assert_verified(run)
    decision = run.report("release_decision.json")["facts_provided"]
    assert decision["subject"]["identity"]["name"] == "grid-encoder"
    probes = [g for g in run.gates().values() if g["gate"] == "mi_probe"]
    assert probes and all(g["status"] == "passed" for g in probes)
