"""Robustness margins: per knob, the largest intensity at which every acceptance gate still passes,
with the degradation curves as evidence and as a plot; not applicable when the clean state already
fails an acceptance gate (one cause, one failure). The built-in subject turns the knobs of its
regenerated world; a subject of your own has its canary perturbed at evaluation time."""

from mmgate.audit.charts import render_curve_plot
from mmgate.lab import eval_robustness, margins
from mmgate.perturb.sample import canary_sample


def test_robustness_margin(gate, mmgate_context, subject, seed, knob):
    if mmgate_context.builtin:
        evidence = margins.robustness_margin(mmgate_context.trainer, mmgate_context.condition, seed,
                                             knob, gate.contract)
    else:
        reason = eval_robustness.knob_reason(knob, subject.canary, gate.contract, seed)
        if reason is not None:
            gate.not_applicable(reason)
        sample = canary_sample(subject.canary, seed)
        embed = sample.embedder(lambda s, key: mmgate_context.embed(subject, s, key, seed), subject.canary)
        evidence = {**eval_robustness.robustness_margin(knob, sample.canary, embed, gate.contract, seed),
                    **sample.evidence()}
    clean = margins.clean_failures(evidence)
    if clean:
        gate.not_applicable(f"the clean state already fails {', '.join(clean)} (reported by that gate): a margin "
                            "is measured from a clean state that passes", evidence)
    title = f"{knob}: acceptance margin {evidence['margin']:.3g}, seed {seed}"
    gate.attach_plots({f"margin_{knob}_seed{seed}.png": render_curve_plot(
        title, evidence["unit"], margins.curve_series(evidence), "metric value")})
    gate.check(f"{knob} margin", evidence["margin"], gate.threshold(">=", gate.contract.min_margin(knob)),
               evidence=evidence)
