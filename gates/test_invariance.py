"""Invariance gates (CheckList's INV and DIR, for geometry): retrieval follows a joint permutation
of the pairs exactly, swapping the modality roles swaps the directions, declared benign input
changes cost at most a budget, and more image noise never helps beyond bootstrap noise."""

from mmgate.panel import item_ranks
from mmgate.perturb import GaussianNoise, registry_for
from mmgate.perturb.effects import (
    joint_permutation,
    noise_gains,
    permutation_report,
    perturbed_ranks,
    recall_drop,
    role_swap_report,
)
from mmgate.subjects.items import canary_items

NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2)


def _embedder(mmgate_context, subject, seed, measured):
    return measured.sample.embedder(lambda paired_set, key: mmgate_context.embed(subject, paired_set, key, seed),
                                    subject.canary)


def test_permutation_invariance(gate, mmgate_context, subject, measured, seed):
    canary = measured.sample.canary
    order = joint_permutation(len(canary), seed)
    permuted = canary.take(order)
    embedded = mmgate_context.embed(subject, permuted, "joint-permutation", seed)
    permuted_items = canary_items(permuted)
    report = permutation_report(measured.sample_ranks, canary_items(canary),
                                item_ranks(embedded.z_img, embedded.z_txt, permuted_items), permuted_items, order)
    gate.check("queries whose rank did not follow a joint permutation of the pairs",
               report["mismatched_queries"], gate.threshold("==", 0),
               evidence={**report, **measured.sample.evidence()})


def test_role_swap(gate, measured):
    embeddings = measured.sample_embeddings
    swapped = canary_items(measured.sample.canary).swapped()
    report = role_swap_report(measured.sample_ranks, item_ranks(embeddings.z_txt, embeddings.z_img, swapped))
    gate.check("queries whose rank changed when the modality roles were swapped",
               report["mismatched_queries"], gate.threshold("==", 0),
               evidence={**report, **measured.sample.evidence()})


def test_benign_perturbation(gate, mmgate_context, subject, measured, seed):
    registry = registry_for(subject.operators)
    operators = [registry.from_json(spec) for spec in gate.contract.benign()]
    reasons = [op.applies_to(subject.canary) for op in operators]
    refused = {op.name: why for op, why in zip(operators, reasons) if why is not None}
    usable = [op for op, why in zip(operators, reasons) if why is None]
    if not usable:
        gate.not_applicable(f"no declared benign perturbation applies to the canary: {refused}")
    embed, sample = _embedder(mmgate_context, subject, seed, measured), measured.sample
    effects = [{"perturbation": op.to_json(),
                "effect": recall_drop(measured.sample_ranks, perturbed_ranks(op, sample.canary, embed))}
               for op in usable]
    worst = max(effects, key=lambda e: e["effect"]["drop"])
    gate.check("largest recall@1 drop under a declared benign perturbation",
               worst["effect"]["drop"], gate.threshold(),
               evidence={"worst": worst, "effects": effects, "not_applicable": refused, **sample.evidence()})


def test_noise_direction(gate, mmgate_context, subject, measured, seed):
    reason = GaussianNoise(NOISE_LEVELS[-1]).applies_to(subject.canary)
    if reason is not None:
        gate.not_applicable(f"image noise cannot be added: {reason}")
    embed = _embedder(mmgate_context, subject, seed, measured)
    ranks = [measured.sample_ranks] + [perturbed_ranks(GaussianNoise(level, seed=seed), measured.sample.canary,
                                                       embed) for level in NOISE_LEVELS[1:]]
    contract = gate.contract
    report = {**noise_gains(NOISE_LEVELS, ranks, contract.bootstrap_resamples, contract.bootstrap_alpha, seed),
              **measured.sample.evidence()}
    gate.check("largest lower bootstrap bound of the recall@1 gained by adding image noise",
               report["largest_gain_lower_bound"], gate.threshold("<=", 0.0), evidence=report)
