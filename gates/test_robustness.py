"""Robustness and counterfactual gates: noise asymmetry, training-pair corruption and a shared
shortcut cue. The built-in subject is measured by regenerating its world with one knob turned; a
subject of your own by perturbing its canary at evaluation time (``mmgate.lab.eval_robustness``)."""

from mmgate.lab import eval_robustness, robustness
from mmgate.perturb import GaussianNoise
from mmgate.perturb.sample import canary_sample


def test_noise_slope(gate, mmgate_context, subject, seed):
    if mmgate_context.builtin:
        sweep = robustness.noise_slope(mmgate_context.trainer, mmgate_context.condition, seed)
    else:
        reason = GaussianNoise(eval_robustness.NOISE_LEVELS[-1]).applies_to(subject.canary)
        if reason is not None:
            gate.not_applicable(f"image noise cannot be added: {reason}")
        sample = canary_sample(subject.canary, seed)
        embed = sample.embedder(lambda s, key: mmgate_context.embed(subject, s, key, seed), subject.canary)
        sweep = {**eval_robustness.noise_slope(sample.canary, embed, seed), **sample.evidence()}
    gate.check("top-1 lost per unit of added image noise", sweep["slope"], gate.threshold(),
               evidence=sweep)


def test_corruption_slope(gate, mmgate_context, seed):
    if not mmgate_context.builtin:
        gate.not_applicable(eval_robustness.CORRUPTION_NEEDS_TRAINING)
    effect = robustness.corruption_slope(mmgate_context.trainer, mmgate_context.condition, seed)
    gate.check("clean top-1 lost per unit of training-pair corruption", effect["slope"],
               gate.threshold(), evidence=effect)


def test_counterfactual_drop(gate, mmgate_context, subject, measured, seed, confounder):
    if mmgate_context.builtin:
        if mmgate_context.condition.eval_world.confounder != confounder:
            gate.not_applicable(f"the subject's world carries no {confounder} cue to remove")
        effect = robustness.counterfactual_drop(mmgate_context.trainer, mmgate_context.condition,
                                                seed, confounder)
        what = f"top-1 lost when the {confounder} cue is removed"
    else:
        reason = eval_robustness.confounder_reason(subject.canary, confounder)
        if reason is not None:
            gate.not_applicable(reason)
        effect = eval_robustness.counterfactual_drop(measured.embeddings, subject.canary, confounder, seed)
        what = f"top-1 lost within candidate pools sharing the query's {confounder} value"
    gate.check(what, effect["drop"], gate.threshold(), evidence=effect)
