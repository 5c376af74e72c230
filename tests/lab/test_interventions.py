"""Bounded interventions (book §3.7): the policy's bounds, stop rules with byte-identical rollback,
pairing sanitation against known corruption, schema-valid decision records, and the CLI line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmgate.cli import main
from mmgate.drift.classifier import BENIGN, UNKNOWN
from mmgate.errors import ConfigError
from mmgate.lab.interventions import (
    DEFAULT_INTERVENTION,
    Action,
    Diagnosis,
    InterventionConfig,
    select_action,
)
from mmgate.lab.interventions.actions import sanitation_filter
from mmgate.lab.interventions.finetune import (
    checkpoint_bytes,
    limited_fine_tune,
    load_checkpoint_bytes,
    sha256_bytes,
)
from mmgate.lab.interventions.run import worse
from mmgate.records.reports import validate_report
from mmgate.reference import TINY_TRAINING, train_reference
from mmgate.world import DEFAULT_WORLD, make_world

LINE = re.compile(r"^INTERVENE restored=(\d+)/(\d+) harmful_accepted=(\d+) rolled_back=(\d+)/(\d+) "
                  r"benign_untouched=(\d+)/(\d+)$")


def _diagnosis(label: str, fired: tuple[str, ...] = ()) -> Diagnosis:
    return Diagnosis(label, 5.0, 1.0, {label: fired}, {label: {}})


def test_unknown_escalates_and_never_acts() -> None:
    decision = select_action(_diagnosis(UNKNOWN), DEFAULT_INTERVENTION)
    assert decision.kind == "escalate" and decision.action is None


def test_benign_is_left_untouched() -> None:
    decision = select_action(_diagnosis(BENIGN), DEFAULT_INTERVENTION)
    assert decision.kind == "none" and decision.action is None


@pytest.mark.parametrize(("label", "fired"), [
    ("spurious_alignment", ("confounder_mi", "factor_mi_decline")),  # MI symptoms only: no ablation
    ("pairing_corruption", ("canary_top1_drop", "cca_drop")),        # no pairing-drift indicator
    ("scoring_drift", ("temperature_shift",)),                        # embeddings moved too
    ("collapse", ("cosine_rise",)),
])
def test_an_action_without_its_minimum_evidence_is_refused(label: str, fired: tuple[str, ...]) -> None:
    decision = select_action(_diagnosis(label, fired), DEFAULT_INTERVENTION)
    assert decision.kind == "refuse" and decision.action is None and decision.evidence_required


@pytest.mark.parametrize(("label", "fired", "action"), [
    ("spurious_alignment", ("marker_reliance",), "confounder_ablation"),
    ("pairing_corruption", ("pair_audit",), "pairing_sanitation"),
    ("scoring_drift", ("temperature_shift", "embeddings_unchanged"), "temperature_recalibration"),
    ("modality_drift", ("image_input_drift", "text_input_quiet"), "input_renormalisation"),
    ("collapse", ("cosine_rise", "rank_drop"), "limited_fine_tune"),
    ("dominance", ("symmetry_gap", "norm_divergence"), "gradient_rebalancing"),
])
def test_evidence_selects_the_permitted_action_within_k(label: str, fired: tuple[str, ...], action: str) -> None:
    decision = select_action(_diagnosis(label, fired), DEFAULT_INTERVENTION)
    assert decision.kind == "act" and decision.action is not None and decision.action.name == action
    assert decision.action.steps <= DEFAULT_INTERVENTION.max_steps


def test_the_intensity_bound_k_is_enforced_and_hashed() -> None:
    with pytest.raises(ConfigError, match="intensity bound"):
        InterventionConfig(max_steps=10, fine_tune_steps=20)
    with pytest.raises(ConfigError, match="intensity bound"):
        Action("limited_fine_tune", {}, DEFAULT_INTERVENTION.max_steps + 1).bounded(DEFAULT_INTERVENTION)
    with pytest.raises(ConfigError, match="not a permitted action"):
        Action("full_retraining")
    assert InterventionConfig(max_steps=149).sha256() != DEFAULT_INTERVENTION.sha256()


def test_worse_ignores_a_return_to_the_healthy_level_but_flags_real_harm() -> None:
    m = {"i2t_top1": 0.8, "t2i_top1": 0.8, "abs_symmetry_gap": 0.0, "mean_cosine": 0.01, "variance_floor": 0.01,
         "effective_rank": 25.0, "hubness": 0.05, "rank_divergence": 0.01, "norm_divergence": 0.01}
    before = {"canary": m, "current": m}
    healthy = {g: {**m, "effective_rank": 15.0} for g in before}
    back = {g: {**m, "effective_rank": 15.2} for g in before}
    assert worse(before, back, DEFAULT_INTERVENTION, healthy) == []
    harm = {"canary": {**m, "mean_cosine": 0.2}, "current": m}
    assert worse(before, harm, DEFAULT_INTERVENTION, healthy) == ["canary.mean_cosine"]


@pytest.fixture(scope="module")
def tiny() -> tuple:
    world = make_world(DEFAULT_WORLD.replace(n_train=512, n_val=128, n_test=128), 0)
    model = train_reference(world, training=TINY_TRAINING.replace(steps=150, batch_size=64), seed=0).model
    return world, model


def test_checkpoints_are_deterministic_bytes(tiny: tuple) -> None:
    _, model = tiny
    data = checkpoint_bytes(model)
    assert data == checkpoint_bytes(model)
    assert load_checkpoint_bytes(data).weights_sha256() == model.weights_sha256()


def test_a_destabilised_fine_tune_is_stopped_and_rolled_back_byte_identically(tiny: tuple, tmp_path: Path) -> None:
    world, model = tiny
    config = DEFAULT_INTERVENTION.replace(fine_tune_steps=20, batch_size=64)
    monitor = (world.val.images, world.val.tokens)
    result = limited_fine_tune(model, world.train.images, world.train.tokens, monitor, config, tmp_path,
                               lr=config.lr * config.destabilise_lr_factor)
    rec = result.record
    assert rec["stopped"] and rec["fired"] and rec["rolled_back"]
    rb = rec["rollback"]
    assert rb["byte_identical"] and rb["checkpoint_sha256"] == rb["read_back_sha256"] == rb["restored_sha256"]
    assert sha256_bytes(checkpoint_bytes(result.model)) == rb["checkpoint_sha256"]
    if rb["to_step"] == 0:  # rolled back to the start: the original weights, bit for bit
        assert result.model.weights_sha256() == model.weights_sha256()
    assert rec["steps_taken"] <= config.max_steps


def test_pairing_sanitation_recovers_the_known_corruption() -> None:
    rng = np.random.default_rng(0)
    n = 200
    images = rng.normal(size=(n, 16, 16)).astype(np.float32)
    corrupt = np.zeros(n, dtype=bool)
    corrupt[rng.choice(n, 60, replace=False)] = True

    class Oracle:  # an encoder that sees each item's identity: image i and caption i embed alike
        def embed_images(self, x: np.ndarray) -> np.ndarray:
            return x.reshape(len(x), -1)[:, :32]

        def embed_texts(self, t: np.ndarray) -> np.ndarray:
            return images[t[:, 0]].reshape(len(t), -1)[:, :32] + 0.3 * rng.normal(size=(len(t), 32))

    partner = np.arange(n)
    idx = np.flatnonzero(corrupt)
    partner[idx] = np.roll(idx, 1)
    tokens = partner[:, None].astype(np.int64)
    f = sanitation_filter(Oracle(), images, tokens, 0.98, corrupt)  # type: ignore[arg-type]
    assert f["known_corrupt"] == 60 and f["precision"] >= 0.9 and f["recall"] >= 0.9
    assert f["kept"] + f["dropped"] == n


@pytest.mark.slow
def test_cli_quick_run_writes_valid_records_and_the_intervene_line(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intervene", "--quick", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m, last
    restored, acted, harmful, rolled, dest, untouched, benign = map(int, m.groups())
    assert harmful == 0 and rolled == dest >= 1 and untouched == benign >= 1 and restored == acted >= 1
    records = sorted((tmp_path / "decisions").glob("*.json"))
    assert len(records) == 4
    for path in [*records, tmp_path / "intervention_summary.json"]:
        report = json.loads(path.read_text(encoding="utf-8"))
        assert validate_report(report) in ("decision_record", "intervention_summary")
        assert report["verification_status"] == "Not verified"
    facts = [json.loads(p.read_text(encoding="utf-8"))["facts_provided"] for p in records]
    assert len({f["policy_config_sha256"] for f in facts}) == 1
    tuned = [f for f in facts if f["fine_tune"] is not None]
    assert tuned and all(f["destabilised"]["stopped_and_rolled_back"] for f in tuned)
    assert list((tmp_path / "plots").glob("*.png"))


def test_confounder_ablation_fine_tunes_the_last_healthy_release_and_its_twin_rolls_back(tiny: tuple) -> None:
    """The confounder-free fine-tune starts from the healthy release's weights (under the deployed
    scoring and preprocessing), not from the confounded model, and the destabilised twin starts from the
    same weights and is rolled back byte-identically."""
    import dataclasses
    import tempfile

    from mmgate.lab.interventions import run as run_module
    from mmgate.lab.interventions.actions import Deployment
    from mmgate.lab.interventions.policy import Decision
    from mmgate.world import World, WorldConfig

    world, healthy = tiny
    small = {"n_train": 512, "n_val": 128, "n_test": 128}

    class Lab:
        def world(self, config: WorldConfig, seed: int) -> World:  # a stub of timeline.Lab.world
            return make_world(config.replace(**small), seed)

    confounded_world = make_world(DEFAULT_WORLD.replace(confounder="bucket", **small), 0)
    confounded = train_reference(confounded_world, training=TINY_TRAINING.replace(steps=150, batch_size=64),
                                 seed=1).model
    case = object.__new__(run_module.Case)
    case.lab, case.seed, case.eval_world = Lab(), 0, DEFAULT_WORLD.replace(confounder="bucket")
    case.train_world = DEFAULT_WORLD.replace(confounder="bucket")
    case.canary, case.current = world.test, Lab().world(case.eval_world, 0).val
    case.deployed, case.baseline = Deployment(confounded), Deployment(healthy)
    config = DEFAULT_INTERVENTION.replace(fine_tune_steps=5, batch_size=64, monitor_items=128)
    decision = Decision("act", "test", Action("confounder_ablation", {}, config.fine_tune_steps))
    with tempfile.TemporaryDirectory() as workdir:
        out = run_module._act(case, decision, config, workdir)
    start = out["fine_tune_args"][0]
    assert out["details"]["fine_tune_start"] == "last_healthy_release"
    assert start.model.weights_sha256() == dataclasses.replace(
        confounded, image_tower=healthy.image_tower, text_tower=healthy.text_tower).weights_sha256()
    assert out["fine_tune"]["start"] is not None and out["fine_tune"]["steps_taken"] <= config.max_steps
    assert out["details"]["confounded_weights_sha256"] == confounded.weights_sha256()
    twin = run_module._destabilised(case, out["fine_tune_args"], config)
    assert twin["stopped_and_rolled_back"] and twin["rollback"]["byte_identical"]
