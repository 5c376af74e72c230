"""Detection power on real subjects (``python -m mmgate power``): graded failures injected into a
real encoder's canary, each judged by the release's own gates (``power_cases``) without and with a
baseline (the clean canary's monitoring profile), and the false-alarm rate of the healthy subject
over seeded half-canary subsamples, under the interval rule and, for comparison, the point rule.

Injections act where the failure lives: a join bug re-pairs a share of the rows; one tower's noise,
one tower squeezed onto k directions and a shortcut cue shared by both towers act on the
embeddings (a model that encodes the cue in both towers: each cue value adds a shared direction);
a mis-declared temperature is a declared attribute; input drift perturbs the canary's inputs
(brightness, blur, a new pen that draws bolder strokes, a paraphrase style) and re-embeds them with
the real encoder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.gating.catalogue import GATES
from mmgate.gating.contract import Contract
from mmgate.power import HEALTHY_DRAWS
from mmgate.power.cases import PowerContext, ProfileBaseline, fired, judge_subject, on_point_estimates
from mmgate.panel.temperature import fit_temperature
from mmgate.perturb import Blur, Brightness, StrokeWeight, TemplatePrefix
from mmgate.subjects.embedding import Embeddings, embed_set, embedding_key
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject, build_subject

HEALTHY_SHARE = 0.5
CUE_VALUES = 4
INJECTION_STREAM = 907
STYLE_TOKENS = ("reportedly,", "in", "plain", "words,")


@dataclass(frozen=True)
class Failure:
    """A failure kind: its catalogue family (the gates built to catch it), intensities from mild to
    gross, their unit, and whether it applies to a subject (None) or why not."""

    name: str
    family: str
    intensities: tuple[float, ...]
    unit: str
    inject: Callable[[Subject, Embeddings, float, int], tuple[Subject, Embeddings]]
    reason: Callable[[Subject], str | None] = lambda subject: None


def _replace_canary(subject: Subject, canary: PairedSet) -> Subject:
    return dataclasses.replace(subject, canary=canary)


def join_bug(subject: Subject, clean: Embeddings, rate: float, seed: int) -> tuple[Subject, Embeddings]:
    """A share ``rate`` of the rows joined to another chosen row's text (a cycle over them)."""
    canary = subject.canary
    n = len(canary)
    rng = np.random.default_rng(np.random.SeedSequence([seed, INJECTION_STREAM]))
    chosen = np.sort(rng.choice(n, size=max(2, int(round(rate * n))), replace=False))
    order = np.arange(n)
    order[chosen] = np.roll(chosen, 1)
    fields: dict[str, Any] = {"texts": [canary.texts[i] for i in order],
                              "name": f"{canary.name}-join-bug-{rate:g}"}
    if canary.groups is not None:
        fields["groups"] = canary.groups[order]
    if canary.text_ids is not None:
        fields["text_ids"] = canary.text_ids[order]
    return (_replace_canary(subject, dataclasses.replace(canary, **fields)),
            Embeddings(clean.z_img, clean.z_txt[order]))


def tower_noise(subject: Subject, clean: Embeddings, level: float, seed: int) -> tuple[Subject, Embeddings]:
    """Gaussian noise on the image tower only, ``level`` times its rows' mean norm / sqrt(d) per
    coordinate (1.0: noise as large as the signal)."""
    z = clean.z_img
    scale = level * float(np.linalg.norm(z, axis=1).mean()) / np.sqrt(z.shape[1])
    rng = np.random.default_rng(np.random.SeedSequence([seed, INJECTION_STREAM + 1]))
    return subject, Embeddings(z + scale * rng.standard_normal(z.shape), clean.z_txt)


def squeeze(subject: Subject, clean: Embeddings, k: float, seed: int) -> tuple[Subject, Embeddings]:
    """The text tower projected onto the ``k`` leading right singular directions of its canary rows."""
    z = clean.z_txt
    basis = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)[2][: int(k)]
    return subject, Embeddings(clean.z_img, z.mean(axis=0) + (z - z.mean(axis=0)) @ basis.T @ basis)


def shared_cue(subject: Subject, clean: Embeddings, weight: float, seed: int) -> tuple[Subject, Embeddings]:
    """A cue of CUE_VALUES values per row, declared as the confounder ``shared_cue``, that both towers
    encode: each value adds ``weight`` times the rows' mean norm along its own random direction."""
    canary = subject.canary
    rng = np.random.default_rng(np.random.SeedSequence([seed, INJECTION_STREAM + 2]))
    labels = rng.integers(0, CUE_VALUES, len(canary))
    out = []
    for z in (clean.z_img, clean.z_txt):
        directions = rng.standard_normal((CUE_VALUES, z.shape[1]))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        out.append(z + weight * float(np.linalg.norm(z, axis=1).mean()) * directions[labels])
    confounders = {**(canary.confounders or {}), "shared_cue": labels}
    declared = dataclasses.replace(canary, confounders=confounders)
    return _replace_canary(subject, declared), Embeddings(*out)


class DeclaredTemperature:
    """An encoder with a declared scoring temperature (the wrapped encoder does the embedding)."""

    def __init__(self, inner: Any, temperature: float) -> None:
        self.inner = inner
        self.temperature = float(temperature)
        self.name = f"{getattr(inner, 'name', type(inner).__name__)} at temperature {temperature:.3g}"

    def embed_images(self, batch: Sequence[Any]) -> np.ndarray:
        return self.inner.embed_images(batch)

    def embed_texts(self, batch: Sequence[Any]) -> np.ndarray:
        return self.inner.embed_texts(batch)


def fitted_temperature(clean: Embeddings, seed: int) -> float:
    """The InfoNCE-optimal temperature of the clean canary."""
    return float(fit_temperature(clean.z_img, clean.z_txt, 1.0, seed=seed)["fitted_temperature"])


def misdeclared_temperature(subject: Subject, clean: Embeddings, factor: float,
                            seed: int) -> tuple[Subject, Embeddings]:
    """The encoder declares ``factor`` times the temperature its canary supports."""
    encoder = DeclaredTemperature(subject.encoder, factor * fitted_temperature(clean, seed))
    return dataclasses.replace(subject, encoder=encoder), clean


def _input_drift(operator: Callable[[float], Any], modality: str):
    def inject(subject: Subject, clean: Embeddings, intensity: float, seed: int) -> tuple[Subject, Embeddings]:
        drifted = operator(intensity).apply(subject.canary)
        known = {"text": clean.z_txt} if modality == "image" else {"image": clean.z_img}
        return _replace_canary(subject, drifted), embed_set(subject.encoder, drifted, known=known)
    return inject


def _image_arrays_reason(subject: Subject) -> str | None:
    return Brightness(0.1).applies_to(subject.canary)


FAILURES = (
    Failure("join_bug", "acceptance", (0.02, 0.05, 0.10, 0.20), "share of rows re-paired", join_bug),
    Failure("image_tower_noise", "geometry", (0.5, 1.0, 2.0, 4.0), "noise std / signal per coordinate",
            tower_noise),
    Failure("text_tower_squeezed", "geometry", (16, 8, 4, 2), "directions kept", squeeze),
    Failure("shared_shortcut", "counterfactual", (0.25, 0.5, 1.0, 2.0), "cue weight / mean row norm",
            shared_cue),
    Failure("misdeclared_temperature", "scoring", (1.5, 2.5, 4.0, 8.0), "declared / supported temperature",
            misdeclared_temperature),
    Failure("image_brightness_drift", "drift", (0.05, 0.1, 0.2, 0.4), "brightness shift (full range)",
            _input_drift(lambda x: Brightness(x), "image"), _image_arrays_reason),
    Failure("image_blur_drift", "drift", (0.5, 1.0, 1.5, 2.0), "gaussian blur sigma (pixels)",
            _input_drift(lambda x: Blur(x), "image"), _image_arrays_reason),
    Failure("image_style_drift", "drift", (0.25, 0.5, 0.75, 1.0), "bolder strokes (pixels of dilation)",
            _input_drift(lambda x: StrokeWeight(x), "image"), _image_arrays_reason),
    Failure("text_style_drift", "drift", (0.1, 0.25, 0.5, 1.0), "share of texts in a new style",
            _input_drift(lambda x: TemplatePrefix(x, tokens=STYLE_TOKENS), "text"),
            lambda subject: TemplatePrefix(0.5, tokens=STYLE_TOKENS).applies_to(subject.canary)),
)


def own_first(gates: Sequence[str], family: str) -> list[str]:
    """The fired gates, those of the failure's own family first."""
    families = {spec.name: spec.family for spec in GATES}
    return sorted(gates, key=lambda gate: families[gate] != family)


def _healthy(subject: Subject, clean: Embeddings, contract: Contract, draws: int) -> list[dict[str, Any]]:
    """Decisions on seeded half-canary subsamples of the healthy subject, under the interval rule
    and, from the same measurements, on point estimates."""
    n = len(subject.canary)
    out = []
    for draw in range(draws):
        rng = np.random.default_rng(np.random.SeedSequence([draw, INJECTION_STREAM + 3]))
        rows = np.sort(rng.choice(n, size=max(2, int(round(HEALTHY_SHARE * n))), replace=False))
        part = _replace_canary(subject, subject.canary.take(rows))
        interval = judge_subject(part, Embeddings(clean.z_img[rows], clean.z_txt[rows]), contract, draw)
        point = on_point_estimates(interval, contract)
        out.append({"draw": draw, "pairs": int(rows.size), "decision_interval": interval.decision,
                    "decision_point": point.decision, "fired_interval": fired(interval),
                    "fired_point": fired(point), "inconclusive": fired(interval, ("inconclusive",))})
    return out


def study_subject(spec: str, contract_for: Callable[[], Contract], seed: int = 0,
                  draws: int = HEALTHY_DRAWS, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every failure of FAILURES at every intensity on one subject, without and with a baseline, and
    its healthy false alarms; JSON-ready."""
    subject = build_subject(spec, seed=seed)
    contract = contract_for()
    clean = embed_set(subject.encoder, subject.canary)
    known = {}
    if subject.training is not None:
        known[embedding_key(subject, subject.training)] = embed_set(subject.encoder, subject.training)
    clean_context = PowerContext(subject, clean, contract, known=known)
    baseline = ProfileBaseline(clean_context.monitoring_profile(seed))
    clean_decision = judge_subject(subject, clean, contract, seed, known=known)
    log(f"power: {subject.name}: clean canary {clean_decision.decision} ({len(subject.canary)} pairs)")
    rows = []
    for failure in FAILURES:
        reason = failure.reason(subject)
        if reason is not None:
            rows.append({"failure": failure.name, "family": failure.family, "not_applicable": reason})
            continue
        grades = []
        for intensity in failure.intensities:
            injected, embeddings = failure.inject(subject, clean, intensity, seed)
            known_here = {embedding_key(injected, injected.training): known[embedding_key(subject, subject.training)]} \
                if subject.training is not None else {}
            grade = {"intensity": intensity}
            for mode, compared in (("alone", None), ("with_baseline", baseline)):
                decision = judge_subject(injected, embeddings, contract, seed, compared, known_here)
                grade[mode] = {"decision": decision.decision,
                               "gates": own_first(fired(decision), failure.family),
                               "inconclusive": fired(decision, ("inconclusive",))}
            grades.append(grade)
            log(f"power: {subject.name}: {failure.name} {intensity:g}: {grade['alone']['decision']} alone, "
                f"{grade['with_baseline']['decision']} with a baseline")
        rows.append({"failure": failure.name, "family": failure.family, "unit": failure.unit,
                     "grades": grades, **_smallest(grades, failure.family)})
    healthy = _healthy(subject, clean, contract, draws)
    return {"subject": subject.name, "spec": spec, "pairs": len(subject.canary),
            "clean_decision": clean_decision.decision, "failures": rows, "healthy": healthy}


def _smallest(grades: Sequence[dict[str, Any]], family: str) -> dict[str, Any]:
    """Per mode, the smallest intensity REJECTed and the gates that fired there (own family first),
    whether the largest intensity is REJECTed, and whether its own family fired there."""
    out: dict[str, Any] = {}
    families = {spec.name: spec.family for spec in GATES}
    for mode in ("alone", "with_baseline"):
        hit = next((g for g in grades if g[mode]["decision"] == "REJECT"), None)
        top = grades[-1][mode]
        out[mode] = {"smallest_detected": None if hit is None else hit["intensity"],
                     "detected_by": [] if hit is None else hit[mode]["gates"],
                     "largest_rejected": top["decision"] == "REJECT",
                     "own_family_at_largest": any(families[g] == family for g in top["gates"])}
    return out


def summary(studies: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Counts behind the POWER line: a failure is detected when its largest intensity is REJECTed
    (with a baseline, the most a release can bring to bear), by its own family when that family's
    gates fired there; a healthy false alarm is a subsample REJECTed under the interval rule."""
    rows = [row for study in studies for row in study["failures"] if "grades" in row]
    healthy = [draw for study in studies for draw in study["healthy"]]
    return {"failures": len(rows),
            "detected": sum(row["with_baseline"]["largest_rejected"] for row in rows),
            "own_family": sum(row["with_baseline"]["own_family_at_largest"] and row["with_baseline"]["largest_rejected"]
                              for row in rows),
            "healthy_draws": len(healthy),
            "healthy_false_alarms": sum(draw["decision_interval"] == "REJECT" for draw in healthy),
            "healthy_false_alarms_point_rule": sum(draw["decision_point"] == "REJECT" for draw in healthy)}


def power_line(counts: dict[str, int]) -> str:
    """``POWER failures=<n> detected=<a>/<n> own_family=<b>/<n> healthy_false_alarms=<c>/<m>``."""
    n = counts["failures"]
    return (f"POWER failures={n} detected={counts['detected']}/{n} own_family={counts['own_family']}/{n} "
            f"healthy_false_alarms={counts['healthy_false_alarms']}/{counts['healthy_draws']}")


def markdown_table(studies: Sequence[dict[str, Any]]) -> str:
    """The README table: subject x failure x intensity, the decision alone and with a baseline, and
    the gates that fired (own family first)."""
    lines = ["| Subject | Failure | Intensity | Alone | With baseline | Detected by (own family first) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for study in studies:
        for row in study["failures"]:
            if "grades" not in row:
                lines.append(f"| {study['subject']} | {row['failure']} | - | not applicable | - | "
                             f"{row['not_applicable'][:80]} |")
                continue
            for grade in row["grades"]:
                gates = grade["with_baseline"]["gates"] or grade["alone"]["gates"]
                lines.append(f"| {study['subject']} | {row['failure']} | {grade['intensity']:g} ({row['unit']}) | "
                             f"{grade['alone']['decision']} | {grade['with_baseline']['decision']} | "
                             f"{', '.join(gates[:4]) or '-'} |")
    return "\n".join(lines) + "\n"
