"""Stress gate: a Hypothesis property over perturbation chains within the contract's budgets;
when it fails, the minimal (shrunk) failing chain is the gate's evidence."""

from mmgate.perturb.effects import perturbed_ranks, recall_drop
from mmgate.strategies import applicable_budgets, perturbations, stress_search


def test_stress_retrieval(gate, mmgate_context, subject, measured, seed):
    contract = gate.contract
    usable, refused = applicable_budgets(subject, contract)
    if not usable:
        gate.not_applicable(f"no operator within the stress budgets applies to the canary: {refused}")

    sample = measured.sample
    embed = sample.embedder(lambda paired_set, key: mmgate_context.embed(subject, paired_set, key, seed),
                            subject.canary)

    def measure(chain):
        return recall_drop(measured.sample_ranks, perturbed_ranks(chain, sample.canary, embed))

    outcome = stress_search(perturbations(subject, contract), measure, contract.max_stress_drop,
                            mmgate_context.spec.settings.stress)
    evidence = {**outcome.to_json(), "budgets": dict(contract.stress_budgets),
                "operators_used": sorted(usable), "not_applicable": refused,
                **sample.evidence()}
    found = outcome.counterexample
    if found is not None and "error" in found:
        gate.fail(f"the encoder failed on a perturbation within budget: {found['error']} "
                  f"(minimal perturbation {found['perturbation']})", evidence=evidence)
    record = found if found is not None else outcome.worst
    gate.check(f"recall@1 drop of the {'minimal failing' if found else 'worst'} perturbation chain "
               f"over {outcome.examples} examples", record["effect"]["drop"], gate.threshold(),
               evidence=evidence)
