"""Deployment-drift gates of one run: the canary's inputs against the training inputs, and the
declared scoring temperature against the one the canary's embeddings support."""

from mmgate.errors import InputError
from mmgate.subjects.subject import declared_temperature


def test_temperature_calibration(gate, mmgate_context, subject, seed):
    declared = declared_temperature(subject)
    if declared is None:
        gate.not_applicable("the encoder declares no scoring temperature (a `temperature` attribute)")
    fit = mmgate_context.temperature_fit(subject, seed, declared)
    if fit["at_bound"]:
        gate.not_applicable(f"the canary does not pin down a scoring temperature: its InfoNCE loss is lowest at "
                            f"the edge of the searched range ({fit['fitted_temperature']:.3g}; perfectly "
                            f"separated pairs want one near 0)", evidence=fit)
    gate.check("|ln(declared / fitted temperature)|", fit["log_ratio"], gate.threshold(), evidence=fit)


def test_input_drift(gate, mmgate_context, subject, seed, modality):
    if subject.training is None:
        gate.not_applicable("the subject declares no training pairs to profile the canary against")
    try:
        drift = mmgate_context.input_drift(subject, seed, modality)
    except InputError as exc:
        gate.not_applicable(f"the {modality} inputs cannot be profiled: {exc}")
    gate.check(f"largest {modality} input drift score, canary against training", drift["max_drift"],
               gate.threshold(), evidence=drift)
