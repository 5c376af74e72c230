"""The training-free policy of a gated run (``gated``) and the training hook (``TrainableEncoder``,
``ReferenceTrainable``)."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate import PairedSet, Subject
from mmgate.lab.interventions import gated
from mmgate.lab.interventions.config import DEFAULT_INTERVENTION
from mmgate.lab.interventions.trainable import ReferenceTrainable
from mmgate.reference import TINY_TRAINING, train_reference
from mmgate.subjects.trainable import TrainableEncoder, is_trainable
from mmgate.world import DEFAULT_WORLD, make_world


def _case(gate: str, status: str = "failed", evidence: dict | None = None, **params) -> dict:
    return {"gate_id": f"gates/x.py::test_{gate}[seed0]", "gate": gate, "status": status,
            "params": {"seed": 0, **params}, "evidence": evidence or {}, "measured": {"value": 1.0}}


def _channels(ref_mean: float, new_mean: float) -> dict:
    return {"comparison": {"statistics": {"channel_means": {"reference": [ref_mean], "new": [new_mean]},
                                          "channel_stds": {"reference": [1.0], "new": [1.0]}}}}


def test_a_gate_without_a_training_free_action_escalates_as_unknown():
    label, _, decision = gated.decide_gate("retrieval_top1", [_case("retrieval_top1")])
    assert (label, decision.kind, decision.action) == ("unknown", "escalate", None)


@pytest.mark.parametrize("gate, cases", [
    ("temperature_calibration", [_case("temperature_calibration", evidence={"fitted_temperature": 0.1,
                                                                            "at_bound": True})]),
    ("temperature_calibration", [_case("temperature_calibration", status="error")]),
    ("input_drift", [_case("input_drift", evidence=_channels(0.0, 0.0), modality="image")]),
    ("input_drift", [_case("input_drift", evidence=_channels(0.0, 1.0), modality="text")]),
    ("pair_audit", [_case("pair_audit", evidence={})]),
])
def test_an_action_without_its_minimum_evidence_is_refused(gate, cases):
    _, _, decision = gated.decide_gate(gate, cases)
    assert decision.kind == "refuse" and decision.action is None


@pytest.mark.parametrize("gate, cases, action", [
    ("temperature_calibration", [_case("temperature_calibration", evidence={"fitted_temperature": 0.1,
                                                                            "at_bound": False})],
     "temperature_recalibration"),
    ("input_drift", [_case("input_drift", evidence=_channels(0.0, 1.0), modality="image")], "input_renormalisation"),
    ("pair_audit", [_case("pair_audit", evidence={"suspect_fraction": 0.3})], "pairing_sanitation"),
])
def test_the_failing_gates_evidence_permits_its_action(gate, cases, action):
    _, _, decision = gated.decide_gate(gate, cases)
    assert decision.kind == "act" and decision.action.name == action and decision.action.steps == 0


class _Linear:
    def __init__(self, w):
        self.w = w

    def embed_images(self, batch):
        return np.asarray(batch).reshape(len(batch), -1) @ self.w

    def embed_texts(self, batch):
        return np.asarray(batch).reshape(len(batch), -1) @ self.w


def _subject(canary_images, train_images):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((canary_images[0].size, 8))
    return Subject("linear", _Linear(w), PairedSet(canary_images, canary_images.copy()),
                   training=PairedSet(train_images, train_images.copy(), name="train"))


def test_renormalisation_restores_affine_constants_and_refuses_a_changed_shape():
    rng = np.random.default_rng(1)
    train = rng.standard_normal((200, 3, 8, 8))
    canary = rng.standard_normal((64, 3, 8, 8)) * 2.0 + 0.5
    fixed, details = gated.renormalise_inputs(_subject(canary, train), DEFAULT_INTERVENTION)
    assert fixed is not None and "refusal" not in details
    assert np.allclose(fixed.canary.images.mean(axis=(0, 2, 3)), train.mean(axis=(0, 2, 3)), atol=0.15)
    assert np.allclose(details["gain"], 0.5, atol=0.1)
    noisy = np.sign(rng.standard_normal((64, 3, 8, 8)))  # two-valued pixels: no affine map makes them Gaussian
    refused, details = gated.renormalise_inputs(_subject(noisy, train), DEFAULT_INTERVENTION)
    assert refused is None and "not an affine change" in details["refusal"]


def test_sanitation_flags_mispaired_rows_and_keeps_the_rest():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((300, 16))
    zt = z + 0.1 * rng.standard_normal(z.shape)
    zt[:30] = np.roll(zt[:30], 1, axis=0)
    subject = _subject(rng.standard_normal((64, 4)), rng.standard_normal((300, 4)))
    kept, details = gated.sanitise_pairs(subject, z, zt, DEFAULT_INTERVENTION)
    assert kept is not None and len(kept.training) == details["kept"]
    assert set(details["flagged_rows"]) == set(range(30))


@pytest.fixture(scope="module")
def trainable():
    world = make_world(DEFAULT_WORLD.replace(n_train=256, n_val=64, n_test=64), 0)
    model = train_reference(world, training=TINY_TRAINING.replace(steps=20, batch_size=64), seed=0).model
    return ReferenceTrainable(model), world


def test_the_reference_aligner_is_the_first_trainable_encoder(trainable):
    encoder, world = trainable
    assert isinstance(encoder, TrainableEncoder) and is_trainable(encoder)
    assert not is_trainable(_Linear(np.eye(2)))
    state = encoder.state_dict()
    assert encoder.load(state).state_dict() == state
    pairs = PairedSet(world.train.images, world.train.tokens, name="train")
    tuned = encoder.fine_tune(pairs, steps=5, lr=1e-3, seed=0)
    again = encoder.fine_tune(pairs, steps=5, lr=1e-3, seed=0)
    assert tuned.state_dict() == again.state_dict() != state
    assert encoder.state_dict() == state and tuned.temperature == encoder.temperature
    assert encoder.load(state).state_dict() == state  # rollback is byte-identical
