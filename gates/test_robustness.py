"""Robustness and counterfactual gates of the built-in subject: noise asymmetry, training-pair
corruption and a shared shortcut cue, each measured by regenerating the world with one knob turned."""

from mmgate.lab import robustness

BUILTIN_ONLY = ("measured by retraining or regenerating the world with one knob turned, which only the built-in "
                "reference aligner allows; for your subject, evaluation-time perturbations of the canary are "
                "judged by the benign_perturbation, noise_direction and stress_retrieval gates")


def test_noise_slope(gate, mmgate_context, seed):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    sweep = robustness.noise_slope(mmgate_context.trainer, mmgate_context.condition, seed)
    gate.check("top-1 lost per unit of added image noise", sweep["slope"], gate.threshold(),
               evidence=sweep)


def test_corruption_slope(gate, mmgate_context, seed):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    effect = robustness.corruption_slope(mmgate_context.trainer, mmgate_context.condition, seed)
    gate.check("clean top-1 lost per unit of training-pair corruption", effect["slope"],
               gate.threshold(), evidence=effect)


def test_counterfactual_drop(gate, mmgate_context, seed, confounder):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    if mmgate_context.condition.eval_world.confounder != confounder:
        gate.not_applicable(f"the subject's world carries no {confounder} cue to remove")
    effect = robustness.counterfactual_drop(mmgate_context.trainer, mmgate_context.condition,
                                            seed, confounder)
    gate.check(f"top-1 lost when the {confounder} cue is removed", effect["drop"], gate.threshold(),
               evidence=effect)
