"""The zero-shot gate's floor (chance-relative, both profiles), its place in the threshold tables,
and the measurement: prototypes over the subject's class prompts, ties counting against."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.gating.catalogue import GATE_BY_NAME
from mmgate.gating.contract import Contract, ContractError
from mmgate.gating.measurements import Measurements
from mmgate.gating.thresholds import (
    CONDITIONAL_GATES,
    DEFAULT_REQUIRED,
    GATE_THRESHOLDS,
    GATES_WITH_INTERVALS,
)
from mmgate.plugin.context import RunContext
from mmgate.plugin.runspec import RunSpec
from mmgate.plugin.settings import resolve_settings
from mmgate.subjects.embedding import Embeddings
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject


def test_zero_shot_is_a_conditional_acceptance_gate_with_an_interval():
    spec = GATE_BY_NAME["zero_shot"]
    assert (spec.family, spec.axes, spec.module) == ("acceptance", ("seed",), "test_acceptance.py")
    assert GATE_THRESHOLDS["zero_shot"] == (">=", "min_zero_shot_top1")
    assert "zero_shot" in CONDITIONAL_GATES and "zero_shot" not in DEFAULT_REQUIRED
    assert "zero_shot" in GATES_WITH_INTERVALS


@pytest.mark.parametrize("builtin", [True, False])
@pytest.mark.parametrize("n_classes, floor", [(2, 0.75), (4, 0.625), (10, 0.5), (100, 0.05), (1000, 0.005)])
def test_floor_is_halfway_from_chance_capped_at_five_times_chance_in_both_profiles(builtin, n_classes, floor):
    applied, basis = Contract.for_subject(builtin).zero_shot_floor(n_classes)
    assert applied == pytest.approx(floor)
    assert basis["applied"] == applied and basis["chance"] == pytest.approx(1 / n_classes)
    assert applied > 1 / n_classes


def test_an_unset_multiple_leaves_the_floor_uncapped_and_an_unset_floor_unsets_the_gate():
    assert Contract(zero_shot_chance_multiple=None).zero_shot_floor(100)[0] == pytest.approx(0.505)
    contract = Contract(min_zero_shot_top1=None)
    assert contract.zero_shot_floor(10)[0] is None and contract.unset_reason("zero_shot")
    assert Contract(min_zero_shot_top1=0.8, bounds=(("zero_shot", "lower_bound"),)).basis("zero_shot") == "lower_bound"


@pytest.mark.parametrize("field, value", [("min_zero_shot_top1", 1.5), ("zero_shot_chance_multiple", 0.5)])
def test_zero_shot_fields_are_range_checked(field, value):
    with pytest.raises(ContractError, match=field):
        Contract(**{field: value})


def _measured(z_img: np.ndarray, groups: list[int]) -> Measurements:
    canary = PairedSet(np.arange(len(groups))[:, None], [f"t{i}" for i in range(len(groups))], groups=groups)
    return Measurements(Embeddings(z_img, z_img), canary, Contract(bootstrap_resamples=200), seed=0)


def test_measurement_maps_labels_to_prototypes_and_averages_templates():
    # classes 3 and 7 (not 0..C-1): the image rows point along class 7's mean template, then class 3's
    z_prompts = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.2], [0.0, 1.0, -0.2], [0.0, 0.0, 1.0]])
    z_img = np.array([[0.0, 1.0, 0.0], [1.0, 0.05, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    value, (low, high), evidence = _measured(z_img, [7, 3, 9, 7]).zero_shot((3, 7, 9), z_prompts, (2, 2, 1))
    assert value == pytest.approx(0.75) and evidence["acc1"] == pytest.approx(0.75)
    assert low <= value <= high
    assert evidence["n_classes"] == 3 and evidence["chance"] == pytest.approx(1 / 3) and "acc5" not in evidence
    assert evidence["per_class_recall"] == {"3": 1.0, "7": 0.5, "9": 1.0}
    assert evidence["confused_top"] == [{"true": 7, "predicted": 3, "count": 1}]


def test_a_text_tower_collapsed_to_one_point_cannot_pass_on_ties():
    z_prompts = np.ones((6, 4))
    z_img = np.random.default_rng(0).normal(size=(12, 4))
    value, _, evidence = _measured(z_img, [0, 1, 2, 3, 4, 5] * 2).zero_shot(tuple(range(6)), z_prompts, (1,) * 6)
    assert evidence["acc1"] == 1.0 and evidence["tie_share"] == 1.0
    assert value == 0.0 and evidence["top1_ties_against"] == 0.0 and evidence["acc5"] == 1.0


class PromptEncoder:
    """Images are one-hot class vectors; a prompt embeds as the one-hot of the digit it ends with."""

    def __init__(self) -> None:
        self.text_rows = 0

    def embed_images(self, batch):
        return np.asarray(batch, dtype=np.float64)

    def embed_texts(self, batch):
        self.text_rows += len(batch)
        return np.stack([np.eye(4)[int(t[-1])] + 0.01 for t in batch])


def test_run_context_embeds_the_prompts_once_and_reuses_the_canary_embeddings(tmp_path):
    labels = [0, 1, 2, 3, 1, 2]
    canary = PairedSet(np.eye(4)[labels], [f"caption {g}" for g in labels], groups=labels)
    encoder = PromptEncoder()
    prompts = {g: [f"a photo of {g}", f"the number {g}"] for g in range(4)}
    subject = Subject(name="toy", encoder=encoder, canary=canary, class_prompts=prompts)
    spec = RunSpec(settings=resolve_settings({}, {}, tmp_path), contract=Contract(bootstrap_resamples=200),
                   problems=(), config_texts=())
    context = RunContext(spec)
    context.adopt_subject(subject)
    value, ci, evidence = context.zero_shot(subject, 0)
    assert value == 1.0 and ci == (1.0, 1.0) and evidence["prompts_per_class"] == {"min": 2, "max": 2}
    assert context.zero_shot(subject, 0)[0] == 1.0
    # the canary pass (6 captions) and the prompt pass (8 prompts), each once
    assert encoder.text_rows == 6 + 8 and context.embeddings_cache.computations == 2


def test_many_classes_list_only_the_lowest_recalls():
    n_classes = 60
    z_prompts = np.eye(n_classes)
    labels = list(range(n_classes)) * 2
    z_img = np.eye(n_classes)[labels]
    z_img[0] = np.eye(n_classes)[1]  # one image of class 0 is classified as class 1
    _, _, evidence = _measured(z_img, labels).zero_shot(tuple(range(n_classes)), z_prompts, (1,) * n_classes)
    assert "per_class_recall" not in evidence and len(evidence["lowest_class_recall"]) == 50
    assert next(iter(evidence["lowest_class_recall"].items())) == ("0", 0.5)
    assert evidence["acc5"] == 1.0
