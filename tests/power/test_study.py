"""The power study's injections do what they say to a canary, and its judge runs the release's own
gate functions: a healthy in-memory subject approves, a gross join bug rejects by acceptance."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate import PairedSet, Subject
from mmgate.gating.contract import Contract
from mmgate.power import study
from mmgate.power.cases import fired, judge_subject, on_point_estimates
from mmgate.subjects.embedding import Embeddings, embed_set


class Lookup:
    """Rows of a fixed table by index: image i and text i are near each other."""

    def __init__(self, n: int = 160, d: int = 32) -> None:
        rng = np.random.default_rng(0)
        self.images = rng.standard_normal((n, d))
        self.texts = self.images + 0.3 * rng.standard_normal((n, d))

    def embed_images(self, batch):
        return self.images[np.asarray(batch, dtype=np.int64)]

    def embed_texts(self, batch):
        return self.texts[np.asarray(batch, dtype=np.int64)]


@pytest.fixture(scope="module")
def healthy():
    rows = np.arange(160)
    subject = Subject(name="lookup", encoder=Lookup(), canary=PairedSet(rows, rows.copy(), name="lookup"))
    return subject, embed_set(subject.encoder, subject.canary)


def test_a_join_bug_re_pairs_the_named_share_of_rows(healthy):
    subject, clean = healthy
    injected, embeddings = study.join_bug(subject, clean, 0.10, seed=0)
    moved = np.asarray(injected.canary.texts) != np.asarray(subject.canary.texts)
    assert moved.sum() == 16 and np.array_equal(embeddings.z_txt[moved], clean.z_txt[np.asarray(
        injected.canary.texts)[moved].astype(int)])


def test_a_squeezed_tower_keeps_k_directions_and_the_other_tower_is_untouched(healthy):
    subject, clean = healthy
    _, embeddings = study.squeeze(subject, clean, 4, seed=0)
    centred = embeddings.z_txt - embeddings.z_txt.mean(axis=0)
    assert np.linalg.matrix_rank(centred, tol=1e-8) == 4 and np.array_equal(embeddings.z_img, clean.z_img)


def test_a_shared_cue_is_declared_as_a_confounder(healthy):
    subject, clean = healthy
    injected, _ = study.shared_cue(subject, clean, 1.0, seed=0)
    assert set(np.unique(injected.canary.confounders["shared_cue"])) <= set(range(study.CUE_VALUES))


def test_the_healthy_subject_approves_and_a_gross_join_bug_is_rejected_by_acceptance(healthy):
    subject, clean = healthy
    contract = Contract.for_subject(False)
    assert judge_subject(subject, clean, contract, 0).decision == "APPROVE"
    injected, embeddings = study.join_bug(subject, clean, 0.9, seed=0)
    decision = judge_subject(injected, embeddings, contract, 0)
    assert decision.decision == "REJECT" and "pair_auc" in fired(decision)


def test_the_point_rule_rejudges_the_same_measurements(healthy):
    subject, clean = healthy
    contract = Contract.for_subject(False)
    decision = judge_subject(subject, clean, contract, 0)
    point = on_point_estimates(decision, contract)
    assert {r.gate_id for r in point.results} == {r.gate_id for r in decision.results}
    assert all(r.threshold.basis == "point" for r in point.results if r.threshold is not None
               and r.status in ("passed", "failed"))


def test_the_power_line_counts_detections_and_false_alarms():
    grades = [{"intensity": 1.0, "alone": {"decision": "REJECT", "gates": ["pair_auc"], "inconclusive": []},
               "with_baseline": {"decision": "REJECT", "gates": ["pair_auc"], "inconclusive": []}}]
    row = {"failure": "join_bug", "family": "acceptance", "grades": grades, **study._smallest(grades, "acceptance")}
    studies = [{"failures": [row], "healthy": [{"decision_interval": "APPROVE", "decision_point": "REJECT"}]}]
    assert study.power_line(study.summary(studies)) == \
        "POWER failures=1 detected=1/1 own_family=1/1 healthy_false_alarms=0/1"
