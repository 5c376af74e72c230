"""End to end: a subject declares its own perturbation operator, and the contract's benign
perturbations use it by name; the operator exists for that subject only."""

from __future__ import annotations

from tests.plugin_support import run_gates

SUBJECT = '''
from dataclasses import dataclass

import numpy as np
from mmgate import PairedSet, Subject

TABLE = np.random.default_rng(0).standard_normal((64, 16))


class Encoder:
    def embed_images(self, batch):
        return TABLE[np.asarray(batch, dtype=np.int64)]

    def embed_texts(self, batch):
        rows = np.array([int(t.split()[1]) for t in batch])
        return TABLE[rows] + 0.05 * np.random.default_rng(rows).standard_normal((len(rows), 16))


@dataclass(frozen=True)
class Shout:
    """Upper-cases every caption: a change of casing this encoder must not care about."""

    intensity: float
    seed: int = 0
    name = "shout"

    def applies_to(self, paired_set):
        return None if isinstance(paired_set.texts, list) else "texts must be a list of strings"

    def apply(self, paired_set):
        return PairedSet(paired_set.images, [t.upper() for t in paired_set.texts], name=paired_set.name)

    def to_json(self):
        return {{"name": self.name, "intensity": self.intensity, "seed": self.seed}}


def make():
    ids = np.arange(64)
    return Subject("shouting", Encoder(), PairedSet(ids, [f"item {{i}}" for i in ids]),
                   operators={operators})
'''
CONTRACT = 'benign_perturbations = [{ name = "shout", intensity = 1.0, seed = 0 }]\n'
GATE = "gates/test_invariance.py::test_benign_perturbation[seed0]"


def _run(pytester, operators: str):
    pytester.makepyfile(shouting=SUBJECT.format(operators=operators))
    pytester.makefile(".toml", contract=CONTRACT)
    return run_gates(pytester, "--mmgate-subject", "shouting:make", "--mmgate-seeds", "1",
                     "--mmgate-contract", "contract.toml", "-k", "benign_perturbation")


def test_a_declared_operator_serves_as_a_benign_perturbation(pytester):
    gate = _run(pytester, '{"shout": Shout}').gates()[GATE]
    assert gate["status"] == "passed", gate
    assert gate["evidence"]["effects"][0]["perturbation"]["name"] == "shout"


def test_an_operator_the_subject_does_not_declare_is_an_error_naming_it(pytester):
    run = _run(pytester, "None")
    gate = run.gates()[GATE]
    assert gate["status"] == "error" and run.decision == "REJECT"
    assert "unknown perturbation operator 'shout'" in gate["message"]
