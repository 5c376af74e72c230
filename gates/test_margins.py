"""Robustness margins of the built-in subject: per knob, the largest intensity at which every
acceptance gate still passes, with the degradation curves as evidence and as a plot."""

from mmgate.audit.charts import render_curve_plot
from mmgate.lab import margins

BUILTIN_ONLY = ("needs a subject whose evaluation world can be regenerated with a knob turned (the "
                "built-in reference aligner)")


def test_robustness_margin(gate, mmgate_context, seed, knob):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    evidence = margins.robustness_margin(mmgate_context.trainer, mmgate_context.condition, seed,
                                         knob, gate.contract)
    title = f"{knob}: acceptance margin {evidence['margin']:.3g}, seed {seed}"
    gate.attach_plots({f"margin_{knob}_seed{seed}.png": render_curve_plot(
        title, evidence["unit"], margins.curve_series(evidence), "metric value")})
    gate.check(f"{knob} margin", evidence["margin"], gate.threshold(">=", gate.contract.min_margin(knob)),
               evidence=evidence)
