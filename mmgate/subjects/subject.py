"""A subject is what a run gates (an encoder, its canary, optional training pairs and operators);
this module also loads the subject factory a run names with ``module:callable``."""

from __future__ import annotations

import importlib
import inspect
import json
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mmgate.errors import ConfigError
from mmgate.subjects.encoder import (
    ENCODER_METHODS,
    DualEncoder,
    missing_encoder_methods,
)
from mmgate.subjects.paired import PairedSet


class SubjectError(ConfigError):
    """A subject cannot be loaded or built: the message names the spec and the problem."""


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Subject:
    """What a run gates: a named dual encoder, its canary set of pairs and, optionally, (a sample
    of) the pairs it was trained on, which the training-pair audit and the input-drift gates read,
    and its own perturbation operators by name (factories called with ``intensity``, ``seed`` and
    parameters), for data the built-in operators do not understand.

    ``class_prompts`` maps each class label of a class-labelled canary (its ``groups``) to the
    prompt templates of that class ("a photo of a {word}." filled in), for the zero-shot
    classification gate: every group label of the canary needs prompts; extra classes are
    distractors. It is stored as a read-only mapping of int to a tuple of strings, sorted by label."""

    name: str
    encoder: DualEncoder
    canary: PairedSet
    training: PairedSet | None = None
    operators: Mapping[str, Callable[..., Any]] | None = None
    class_prompts: Mapping[int, Sequence[str]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SubjectError(f"Subject.name: expected a non-empty string, got {self.name!r}")
        missing = missing_encoder_methods(self.encoder)
        if missing:
            raise SubjectError(f"Subject.encoder: {type(self.encoder).__name__} lacks callable "
                               f"{', '.join(missing)}; a DualEncoder needs "
                               f"{' and '.join(ENCODER_METHODS)}")
        if not isinstance(self.canary, PairedSet):
            raise SubjectError(f"Subject.canary: expected a PairedSet, got "
                               f"{type(self.canary).__name__}")
        if self.training is not None and not isinstance(self.training, PairedSet):
            raise SubjectError(f"Subject.training: expected a PairedSet of training pairs or None, "
                               f"got {type(self.training).__name__}")
        if self.operators is not None:
            if not isinstance(self.operators, Mapping) or not all(
                    isinstance(k, str) and k.isidentifier() and callable(v) for k, v in self.operators.items()):
                raise SubjectError(f"Subject.operators: expected a mapping of operator name (an identifier) to "
                                   f"a callable factory, got {self.operators!r}")
            object.__setattr__(self, "operators", MappingProxyType(dict(self.operators)))
        if self.class_prompts is not None:
            object.__setattr__(self, "class_prompts", _checked_prompts(self.class_prompts, self.canary))

    def identity(self) -> dict[str, Any]:
        """The encoder's own ``identity()`` (a JSON-ready dict), else ``{"name": <type name>}``."""
        method = getattr(self.encoder, "identity", None)
        if method is None:
            return {"name": type(self.encoder).__name__}
        if not callable(method):
            raise SubjectError(f"Subject {self.name!r}: encoder.identity must be a method, got "
                               f"{type(method).__name__}")
        try:
            value = method()
        except Exception as exc:
            raise SubjectError(f"Subject {self.name!r}: encoder.identity() raised "
                               f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value) \
                or not _json_ready(value):
            raise SubjectError(f"Subject {self.name!r}: encoder.identity() must return a "
                               f"JSON-ready dict with string keys, got {value!r}")
        return value


def _checked_prompts(prompts: Any, canary: PairedSet) -> Mapping[int, tuple[str, ...]]:
    """``class_prompts`` validated against the canary: int labels (at least 2) to non-empty lists
    of non-empty strings, covering every group label of the canary."""
    where = "Subject.class_prompts"
    if not isinstance(prompts, Mapping):
        raise SubjectError(f"{where}: expected a mapping of class label (int) to a list of prompt "
                           f"strings, got {type(prompts).__name__}")
    checked: dict[int, tuple[str, ...]] = {}
    for label, templates in prompts.items():
        if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
            raise SubjectError(f"{where}: class labels must be ints (the canary's group labels), got "
                               f"{label!r}")
        if isinstance(templates, (str, bytes)) or not isinstance(templates, Sequence) or not templates \
                or not all(isinstance(t, str) and t.strip() for t in templates):
            raise SubjectError(f"{where}[{int(label)}]: expected a non-empty list of non-empty prompt "
                               f"strings, got {templates!r}")
        checked[int(label)] = tuple(templates)
    if len(checked) < 2:
        raise SubjectError(f"{where}: zero-shot classification needs at least 2 classes, got {len(checked)}")
    if canary.groups is None:
        raise SubjectError(f"{where}: the canary {canary.name!r} declares no groups; class prompts need a "
                           f"class-labelled canary (PairedSet(groups=<class label per row>))")
    missing = sorted({int(g) for g in np.unique(canary.groups)} - set(checked))
    if missing:
        raise SubjectError(f"{where}: no prompts for the canary's class label(s) {missing}; every group "
                           f"label of the canary needs prompts")
    return MappingProxyType(dict(sorted(checked.items())))


def declared_temperature(subject: Subject) -> float | None:
    """The scoring temperature the encoder declares with a ``temperature`` attribute, or None."""
    value = getattr(subject.encoder, "temperature", None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise SubjectError(f"Subject {subject.name!r}: encoder.temperature: expected a finite number "
                           f"> 0 (the scoring temperature), got {value!r}")
    return float(value)


def load_subject_factory(spec: str) -> Callable[..., Subject]:
    """The callable named by ``"module:callable"`` (the callable may be dotted); see ``takes_seed``
    for its one optional parameter."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise SubjectError(f"subject spec {spec!r}: expected 'module:callable'")
    module_name, attr_path = (part.strip() for part in spec.split(":"))
    if not module_name or not attr_path:
        raise SubjectError(f"subject spec {spec!r}: expected 'module:callable' with both parts "
                           f"non-empty")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise SubjectError(f"subject spec {spec!r}: cannot import module {module_name!r}: "
                           f"{type(exc).__name__}: {exc}") from exc
    for part in attr_path.split("."):
        if not hasattr(target, part):
            raise SubjectError(f"subject spec {spec!r}: module {module_name!r} has no attribute "
                               f"{attr_path!r}")
        target = getattr(target, part)
    if not callable(target):
        raise SubjectError(f"subject spec {spec!r}: {attr_path!r} is not callable (it is a "
                           f"{type(target).__name__})")
    return target


def takes_seed(factory: Callable[..., Subject]) -> bool:
    """Whether a subject factory takes a ``seed`` parameter: then it builds one subject per gated
    seed (several training runs, say); without one its subject is fixed and gated once."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature: zero arguments
        return False
    return "seed" in parameters


def make_subject(factory: Callable[..., Subject], origin: str, seed: int | None = None) -> Subject:
    """Call a subject factory (with ``seed=`` when one is given) and check it returned a Subject;
    ``origin`` names it in errors."""
    try:
        subject = factory() if seed is None else factory(seed=seed)
    except Exception as exc:
        where = origin if seed is None else f"{origin}(seed={seed})"
        raise SubjectError(f"subject factory {where!r} raised {type(exc).__name__}: {exc}") \
            from exc
    if not isinstance(subject, Subject):
        raise SubjectError(f"subject factory {origin!r} returned {type(subject).__name__}; "
                           f"expected mmgate.Subject")
    return subject


def build_subject(spec: str, seed: int = 0) -> Subject:
    """Load the factory named by ``"module:callable"`` and build its subject (for ``seed`` when
    the factory takes one, see ``takes_seed``)."""
    factory = load_subject_factory(spec)
    return make_subject(factory, spec, seed if takes_seed(factory) else None)
