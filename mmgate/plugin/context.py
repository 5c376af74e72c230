"""Per-process state of a gated run: the subject(s), embeddings and measurements, each built once.

Every gate in a worker process shares one RunContext, so the subject is built (or the reference
aligner trained) once per seed and the canary embedded once per (subject, set, perturbation, seed).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mmgate.drift.baseline import Baseline, BaselineError
from mmgate.drift.budgets import BudgetCheck
from mmgate.drift.monitor import PROFILED, judge, monitoring_profile
from mmgate.drift.profiles import compare_profiles, compute_dataset_profile
from mmgate.errors import MmgateError
from mmgate.gating.catalogue import confounder_axis
from mmgate.gating.measurements import Measurements
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.lab.conditions import HEALTHY
from mmgate.lab.diagnosis import Diagnoser
from mmgate.panel.pair_audit import audit_pairs
from mmgate.panel.temperature import fit_temperature
from mmgate.plugin.engine import LOCAL, Engine, engine_for
from mmgate.plugin.runspec import RunSpec
from mmgate.subjects.embedding import (
    EmbeddingCache,
    Embeddings,
    TextEmbeddings,
    embed_texts,
    embedding_key,
    texts_key,
)
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject, build_subject
from mmgate.world import (
    Splits,
    World,
    check_split_hygiene,
    leakage_alarm,
    text_features,
)

Progress = Callable[[int, int, str], None]


class SetupProblem(MmgateError):
    """The run could not be set up (settings, contract or subject); every gate reports it."""


class RunContext:
    """Builds and memoises what gates measure; raises SetupProblem when the run is unusable."""

    def __init__(self, spec: RunSpec, progress: Progress | None = None) -> None:
        self.spec = spec
        self.condition = spec.condition
        self.trainer = ReferenceTrainer()
        self.embeddings_cache = EmbeddingCache()
        self._progress = progress
        self._user_subjects: dict[int, Subject] = {}
        self._user_error: Exception | None = None
        self._measurements: dict[tuple[str, int], Measurements] = {}
        self._zero_shot: dict[tuple[str, int], tuple[float, tuple[float, float], dict]] = {}
        self._profiles: dict[int, dict] = {}
        self._diagnoser: Diagnoser | None = None
        self._fingerprints: dict[tuple[int, str], str] = {}
        self._second_pass: dict[tuple[str, int], dict[str, dict[str, Any]] | MmgateError] = {}
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """Where canaries are embedded and ranks swept (here, or the ``--mmgate-ray`` cluster),
        connected on first use."""
        if self._engine is None:
            self._engine = engine_for(self.spec.settings)
        return self._engine

    @property
    def builtin(self) -> bool:
        """Whether this run gates the built-in reference aligner."""
        return self.spec.builtin

    def check_setup(self) -> None:
        """Raise the first setup problem, so a gate never runs on a half-configured run."""
        if self.spec.problems:
            raise SetupProblem("; ".join(self.spec.problems))

    def adopt_subject(self, subject: Subject, canary: Embeddings | None = None) -> None:
        """Use the user's subject the setup check built (for seed 0), and the embeddings of its clean
        canary the check computed when given, instead of building and embedding them again."""
        self._user_subjects[0] = subject
        if canary is not None:
            self.embeddings_cache.adopt(embedding_key(subject, subject.canary), canary)

    def subject(self, seed: int) -> Subject:
        """The subject gated at ``seed``: a freshly seeded reference model, or the user's subject
        (built once per seed by a factory that takes one, else once)."""
        self.check_setup()
        if self.builtin:
            return self.trainer.subject(seed, self.condition)
        key = seed if self.spec.seeded_subject else 0
        if key not in self._user_subjects:
            if self._user_error is not None:
                raise SetupProblem(f"subject could not be built: {self._user_error}")
            try:
                self._user_subjects[key] = build_subject(self.spec.settings.subject, seed=key)
            except MmgateError as exc:
                self._user_error = exc
                raise
        return self._user_subjects[key]

    def confounders(self) -> tuple[str, ...]:
        """The confounders the counterfactual gate is parametrized over: the built-in world's cues,
        or those the canary of the user's subject (as built for seed 0) declares; a subject that
        cannot be built declares none (its gates report why)."""
        if self.builtin or self.spec.problems:
            return confounder_axis(None)
        try:
            return confounder_axis(self.subject(0).canary.confounders)
        except MmgateError:
            return confounder_axis(None)

    def embed(self, subject: Subject, paired_set: PairedSet, perturbation: str = "clean",
              seed: int = 0) -> Embeddings:
        """Embeddings of ``paired_set`` by ``subject``, computed once per process and key: the whole
        canary on the run's engine (Ray with ``--mmgate-ray``), perturbed samples (at most
        ``SAMPLE_CAP`` rows, many of them) here, where an actor pool's start-up would dominate."""
        key = embedding_key(subject, paired_set, perturbation, seed)
        engine = self.engine if paired_set is subject.canary else LOCAL
        return self.embeddings_cache.get_or_compute(
            key, lambda: engine.embed(subject.encoder, paired_set, self.spec.settings.batch_size,
                                      self._progress, self._unchanged(subject, paired_set, perturbation)))

    def _unchanged(self, subject: Subject, paired_set: PairedSet, perturbation: str) -> dict[str, np.ndarray]:
        """The clean canary's embeddings of each modality a perturbation left unchanged (image noise
        leaves the texts as they were), so a sweep embeds only what it changed. The clean canary
        itself reuses nothing."""
        canary = subject.canary
        if perturbation == "clean" or len(paired_set) != len(canary):
            return {}
        reused = {}
        for modality, field in (("image", "images"), ("text", "texts")):
            if paired_set.items_fingerprint(field) == self._clean_fingerprint(canary, field):
                clean = self.embed(subject, canary)
                reused[modality] = clean.z_img if modality == "image" else clean.z_txt
        return reused

    def _clean_fingerprint(self, canary: PairedSet, field: str) -> str:
        key = (id(canary), field)
        if key not in self._fingerprints:
            self._fingerprints[key] = canary.items_fingerprint(field)
        return self._fingerprints[key]

    def second_pass(self, subject: Subject, seed: int, modality: str) -> dict[str, Any]:
        """How a second embedding pass of the canary differs from the first in ``modality`` (the
        determinism gate). The pass is done once per subject and process, never served from the
        first pass's cache, and only its comparisons are kept: the embeddings themselves are a
        canary's worth of memory (400 MB at 100,000 pairs, d = 256) that no other gate reads."""
        key = (subject.name, seed)
        if key not in self._second_pass:
            measured = self._measured(subject, seed)
            try:
                again = self.engine.embed(subject.encoder, subject.canary, self.spec.settings.batch_size,
                                          self._progress)
            except MmgateError as exc:
                self._second_pass[key] = exc
            else:
                self._second_pass[key] = {name: measured.compare(again, name) for name in ("image", "text")}
        outcome = self._second_pass[key]
        if isinstance(outcome, Exception):
            raise outcome
        return dict(outcome[modality])

    def measurements(self, seed: int) -> Measurements:
        """The panel measurements of the seed's subject on its canary."""
        return self._measured(self.subject(seed), seed)

    def _measured(self, subject: Subject, seed: int) -> Measurements:
        """The panel measurements of ``subject`` on its canary at ``seed``, built once."""
        key = (subject.name, seed)
        if key not in self._measurements:
            embeddings = self.embed(subject, subject.canary)
            self._measurements[key] = Measurements(embeddings, subject.canary, self.spec.contract, seed,
                                                   device=self.spec.settings.device, sweep=self.engine.sweep)
        return self._measurements[key]

    def embed_texts(self, subject: Subject, texts: list[str], purpose: str) -> TextEmbeddings:
        """Embeddings of loose ``texts`` (no image partners) by ``subject``'s text tower, computed
        once per process, subject, texts and ``purpose``."""
        key = texts_key(subject, texts, purpose)
        return self.embeddings_cache.get_or_compute(
            key, lambda: embed_texts(subject.encoder, texts, self.spec.settings.batch_size))

    def zero_shot(self, subject: Subject, seed: int) -> tuple[float, tuple[float, float], dict]:
        """Zero-shot top-1 of the seed's canary images over the subject's class prompts (embedded
        once), with its bootstrap interval and evidence (see ``Measurements.zero_shot``)."""
        key = (subject.name, seed)
        if key not in self._zero_shot:
            prompts = subject.class_prompts
            classes = tuple(prompts)
            texts = [text for label in classes for text in prompts[label]]
            z_prompts = self.embed_texts(subject, texts, "class-prompts").z_txt
            self._zero_shot[key] = self._measured(subject, seed).zero_shot(
                classes, z_prompts, tuple(len(prompts[label]) for label in classes))
        return self._zero_shot[key]

    def pair_audit(self, subject: Subject, seed: int) -> dict:
        """Audit of the subject's training pairs by its own embeddings (see ``panel.pair_audit``)."""
        embeddings = self.embed(subject, subject.training)
        return {"training_set": subject.training.name,
                **audit_pairs(embeddings.z_img, embeddings.z_txt, seed=seed)}

    def temperature_fit(self, subject: Subject, seed: int, declared: float) -> dict:
        """The canary's InfoNCE-optimal temperature against the declared one."""
        embeddings = self.embed(subject, subject.canary)
        return fit_temperature(embeddings.z_img, embeddings.z_txt, declared, seed=seed)

    def input_drift(self, subject: Subject, seed: int, modality: str) -> dict:
        """Profile comparison of one modality's canary inputs against the training inputs."""
        kind, field = PROFILED[modality]
        reference = compute_dataset_profile(getattr(subject.training, field), kind, seed=seed)
        current = compute_dataset_profile(getattr(subject.canary, field), kind, seed=seed)
        comparison = compare_profiles(reference, current)
        return {"modality": modality, "reference": subject.training.name, "current": subject.canary.name,
                "max_drift": comparison["max_drift"], "status": comparison["status"],
                "comparison": comparison}

    @property
    def recording(self) -> bool:
        """Whether this run records a drift baseline."""
        return self.spec.settings.record_baseline is not None

    @property
    def comparing(self) -> bool:
        """Whether this run is compared against a drift baseline."""
        return self.spec.settings.baseline is not None

    def baseline(self) -> Baseline:
        """The verified baseline; BaselineError says why it cannot be used."""
        if self.spec.baseline is None:
            raise BaselineError(self.spec.baseline_problem or "no baseline was given (--mmgate-baseline PATH)")
        return self.spec.baseline

    def monitoring_profile(self, seed: int) -> dict:
        """The seed's monitoring profile (metrics, input and output profiles, embedding sample)."""
        if seed not in self._profiles:
            self._profiles[seed] = monitoring_profile(self.subject(seed), self.measurements(seed), seed)
        return self._profiles[seed]

    def drift_check(self, seed: int, metric: str) -> tuple[BudgetCheck, dict]:
        """The metric's drift budget judged against the baseline's profile of the same seed."""
        baseline = self.baseline()
        current = self.monitoring_profile(seed)
        baseline.check_subject(current["subject"]["name"], current["dimension"])
        return judge(self.spec.contract.budget(metric), baseline.profile(seed), current, seed)

    def diagnosis_mismatch(self, seed: int) -> str | None:
        """Why the drift classifier cannot judge this seed against the baseline, or None: its
        features compare with the healthy built-in model, so the baseline must be that model's."""
        recorded = self.baseline().profile(seed)["subject"]["identity"]
        if recorded != self.trainer.subject(seed, HEALTHY).identity():
            return (f"the baseline of seed {seed} was not recorded from the healthy built-in model, which the "
                    f"drift classifier's features are measured against")
        return None

    def diagnosis(self, seed: int) -> dict:
        """The drift classifier's diagnosis of this run's condition at ``seed`` (built-in subject)."""
        if self._diagnoser is None:
            self._diagnoser = Diagnoser(trainer=self.trainer)
        return self._diagnoser.diagnose(self.condition, seed)

    def split_hygiene(self, seed: int) -> dict:
        """Overlap of the synthetic world's splits, and how many test items repeat a train combination."""
        world = self.trainer.world(self.condition.train_world, seed)
        parts = {name: world.split(name).index for name in ("train", "val", "test")}
        overlapping = sum(np.intersect1d(parts[a], parts[b]).size
                          for a, b in (("train", "val"), ("train", "test"), ("val", "test")))
        report = {"sizes": {name: int(idx.size) for name, idx in parts.items()},
                  "overlapping_items": int(overlapping)}
        if overlapping == 0:
            report.update(check_split_hygiene(Splits(**parts), _factor_tuples(world)))
        return report

    def leakage_alarm(self, seed: int) -> dict:
        """The chapter-3 index-cue alarm on the training inputs of the seed's world."""
        config = self.condition.train_world
        train = self.trainer.world(config, seed).train
        alarm = leakage_alarm(train.images, text_features(train.tokens, config.vocab_size),
                              train.confounders["parity"], self.spec.contract.max_leakage_correlation)
        return {**alarm, "cue": "item-index parity",
                "max_abs_corr": max(alarm["max_abs_corr_img"], alarm["max_abs_corr_txt"])}


def _factor_tuples(world: World) -> np.ndarray:
    """(n_items, n_factors) factor labels of every world item, indexed by item index."""
    splits = [world.split(name) for name in ("train", "val", "test")]
    n = sum(len(split) for split in splits)
    names = sorted(splits[0].factors)
    tuples = np.zeros((n, len(names)), dtype=np.int64)
    for split in splits:
        tuples[split.index] = np.stack([split.factors[name] for name in names], axis=1)
    return tuples
