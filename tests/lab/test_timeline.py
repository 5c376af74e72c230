"""Specification of the episode timeline: records, decisions, confusion, stability, the TIMELINE line
and the written strict reports. Fast tests replace the trained observation by a synthetic one; the slow
test runs a real subset (one evaluation seed, three episodes, two spread seeds)."""

from __future__ import annotations

import json

import pytest

from mmgate.drift.classifier import CLASSES, LABELS, RULES_SHA256, UNKNOWN
from mmgate.drift.episodes import KINDS, Episode, episode
from mmgate.drift.features import FEATURE_NAMES, FeatureVector
from mmgate.errors import ConfigError
from mmgate.lab import timeline, timeline_report
from mmgate.records.reports import ReportSchemaError, validate_report
from mmgate.records.resources import schemas_dir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MYSTERY = Episode("mystery_degradation", ("collapse", "modality_drift"),
                  "synthetic: only the canary's top-1 falls, which no class explains")
FAST_EPISODES = (episode("smooth_benign_drift"), episode("scoring_temperature"), episode("image_noise_ramp"),
                 episode("collapse_fine_tune"), MYSTERY)
SHIFTS = {
    "smooth_benign_drift": {"compare.input_drift_img": 0.05},
    "scoring_temperature": {"canary.log_temperature_ratio": 1.6},
    "image_noise_ramp": {"compare.input_drift_img": 0.35, "current.top1": -0.04},
    "collapse_fine_tune": {"canary.mean_cos_max": 0.5, "canary.eff_rank_min": -5.0,
                           "compare.canary_shift_max": 0.8},
    "mystery_degradation": {"canary.top1": -0.3, "compare.canary_shift_max": 0.5},
}


def _fake_observe(lab, ep, seed):
    """Baseline values with a seed-dependent jitter, shifted as the episode says."""
    obs = {f: 0.5 + 0.001 * ((seed * 7 + i) % 5) for i, f in enumerate(FEATURE_NAMES)}
    for name in ("compare.input_drift_img", "compare.input_drift_txt", "compare.canary_shift_max",
                 "compare.pair_audit_suspect", "compare.marker_removal_drop"):
        obs[name] = 0.0
    obs["compare.marker_reliance"] = -0.5
    for name, delta in SHIFTS.get(ep.name, {}).items():
        obs[name] = delta if name.startswith("compare.") else obs[name] + delta
    return obs


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(timeline, "observe", _fake_observe)
    return timeline.run_timeline(seeds=(0, 1), episodes=FAST_EPISODES, spread_seeds=(100, 101, 102))


def test_every_episode_and_seed_gets_a_record_with_snapshot_features_classification_and_decision(fast):
    assert len(fast["records"]) == 2 * len(FAST_EPISODES)
    record = fast["records"][0]
    assert set(record["snapshot"]) == {"canary", "current", "compare"}
    assert set(record["features"]) == {"raw", "normalised"}
    assert record["classification"]["label"] == record["predicted"]
    assert record["decision"]["decision"] in ("APPROVE", "REJECT")


def test_predictions_follow_the_injected_shifts(fast):
    predicted = {(r["episode"], r["seed"]): r["predicted"] for r in fast["records"]}
    for seed in (0, 1):
        assert predicted[("smooth_benign_drift", seed)] == "benign"
        assert predicted[("scoring_temperature", seed)] == "scoring_drift"
        assert predicted[("image_noise_ramp", seed)] == "modality_drift"
        assert predicted[("collapse_fine_tune", seed)] == "collapse"
        assert predicted[("mystery_degradation", seed)] == UNKNOWN


def test_decisions_approve_benign_reject_failures_and_reject_unknown_with_escalation(fast):
    decisions = {r["predicted"]: r["decision"] for r in fast["records"]}
    assert decisions["benign"] == {"decision": "APPROVE", "escalate": False,
                                   "reason": "benign drift: no failure mechanism met its minimum evidence"}
    assert decisions["collapse"]["decision"] == "REJECT" and not decisions["collapse"]["escalate"]
    assert decisions[UNKNOWN]["decision"] == "REJECT" and decisions[UNKNOWN]["escalate"]
    assert "unattributed drift" in decisions[UNKNOWN]["reason"] and "debug artifact" in decisions[UNKNOWN]["reason"]


def test_summary_counts_single_axis_mixed_and_benign_runs(fast):
    assert fast["summary"] == {"single_axis_correct": 6, "single_axis_total": 6, "mixed_confident_wrong": 0,
                               "mixed_total": 2, "mixed_unknown": 2, "benign_correct": 2, "benign_total": 2}
    assert fast["line"] == "TIMELINE single_axis_correct=6/6 mixed_confident_wrong=0 benign_correct=2/2"


def test_confusion_and_stability_tabulate_truth_against_prediction(fast):
    conf = fast["confusion"]
    assert conf["counts"]["collapse+modality_drift"][UNKNOWN] == 2
    assert conf["counts"]["scoring_drift"]["scoring_drift"] == 2
    assert sum(sum(row.values()) for row in conf["counts"].values()) == len(fast["records"])
    assert fast["stability"]["image_noise_ramp"] == {"labels": ["modality_drift"] * 2,
                                                     "counts": {"modality_drift": 2}, "modal": "modality_drift",
                                                     "agreement": 1.0}


def test_unknown_labels_produce_debug_artifacts_with_scores_and_failed_rules(fast):
    assert [(d["episode"], d["seed"]) for d in fast["debug"]] == [("mystery_degradation", 0),
                                                                   ("mystery_degradation", 1)]
    item = fast["debug"][0]
    assert item["failed_rules"]["collapse"] and set(item["scores"]) >= {"benign", "collapse"}
    assert item["decision"]["decision"] == "REJECT" and item["decision"]["escalate"]
    assert item["rules_sha256"] == RULES_SHA256
    assert FeatureVector.from_dict(item["features"]).normalised["canary.top1"] < 0


def test_the_report_records_seeds_rules_and_spread(fast):
    assert fast["seeds"]["evaluation"] == [0, 1] and fast["seeds"]["spread"] == [100, 101, 102]
    assert not set(fast["seeds"]["tuning"]) & set(timeline.EVALUATION_SEEDS)
    assert fast["classifier"]["sha256"] == RULES_SHA256
    assert [e["index"] for e in fast["episodes"]] == list(range(len(FAST_EPISODES) + 1))


def test_the_run_is_deterministic(monkeypatch, fast):
    monkeypatch.setattr(timeline, "observe", _fake_observe)
    again = timeline.run_timeline(seeds=(0, 1), episodes=FAST_EPISODES, spread_seeds=(100, 101, 102))
    assert json.dumps(again, sort_keys=True) == json.dumps(fast, sort_keys=True)


def test_write_timeline_writes_strict_reports_plots_and_debug_files(fast, tmp_path):
    written = timeline_report.write_timeline(fast, tmp_path)
    doc = json.loads((tmp_path / "timeline.json").read_text())
    assert validate_report(doc) == "drift_timeline" and doc["verification_status"] == "Not verified"
    facts = doc["facts_provided"]
    assert facts["line"] == fast["line"] and facts["summary"] == fast["summary"]
    assert facts["run_id"] == timeline_report.timeline_run_id(fast)
    assert facts["debug"] == [{"episode": "mystery_degradation", "seed": s,
                               "path": f"debug/mystery_degradation_seed{s}.json"} for s in (0, 1)]
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert "confusion.png" in plots and "trend_retrieval.png" in plots
    assert all((tmp_path / "plots" / p).read_bytes().startswith(PNG_MAGIC) for p in plots)
    assert sorted(p.name for p in (tmp_path / "debug").iterdir()) == ["mystery_degradation_seed0.json",
                                                                      "mystery_degradation_seed1.json"]
    debug = json.loads((tmp_path / "debug" / "mystery_degradation_seed1.json").read_text())
    assert validate_report(debug) == "drift_debug"
    assert debug["facts_provided"]["run_id"] == facts["run_id"] and debug["facts_provided"]["label"] == UNKNOWN
    assert debug["draft_output"] == {"decision": "REJECT", "escalate": True,
                                     "reason": fast["debug"][1]["decision"]["reason"]}
    assert all(p.exists() for p in written) and not list(tmp_path.rglob("*.tmp"))


def test_the_timeline_report_states_counts_and_lists_unknowns_and_wrong_labels_as_open_items(fast):
    records = [dict(r) for r in fast["records"]]
    wrong = next(i for i, r in enumerate(records) if r["episode"] == "image_noise_ramp")
    records[wrong] = {**records[wrong], "predicted": "scoring_drift", "correct": False, "confident_wrong": True}
    report = timeline_report.timeline_report({**fast, "records": records}, "timeline-test")
    open_items = report["open_items"]
    assert sum("unattributed drift" in item for item in open_items) == 2
    assert any(item.startswith("mystery_degradation seed 1: unattributed drift (injected: collapse+modality_drift)")
               and "debug/mystery_degradation_seed1.json" in item for item in open_items)
    assert any(item.startswith("image_noise_ramp seed 0: labelled scoring_drift but the injected mechanism is "
                               "modality_drift") for item in open_items)
    assert "10 runs (5 episodes x 2 evaluation seeds)" in report["analysis"]
    assert "2 unknown label(s)" in report["analysis"] and "1 wrong label(s)" in report["analysis"]
    assert "Decisions: 2 APPROVE, 8 REJECT." in report["analysis"]
    assert report["draft_output"] == {"timeline_line": fast["line"], "decisions": {"APPROVE": 2, "REJECT": 8},
                                      "escalated": 2}


TIMELINE_MUTATIONS = {
    "unknown_label": (lambda f: f["records"][0].update(predicted="drifty"), "records[0].predicted"),
    "unknown_classification_label": (lambda f: f["records"][0]["classification"].update(label="maybe"),
                                     "records[0].classification.label"),
    "extra_record_key": (lambda f: f["records"][0].update(extra=1), "records[0]"),
    "bad_line": (lambda f: f.update(line="TIMELINE all good"), "line"),
    "negative_count": (lambda f: f["summary"].update(single_axis_correct=-1), "summary.single_axis_correct"),
    "incomplete_unknown": (lambda f: f["records"][-1]["decision"].update(decision="INCOMPLETE"),
                           "records[9].decision.decision"),
    "unescalated_unknown": (lambda f: f["records"][-1]["decision"].update(escalate=False),
                            "records[9].decision.escalate"),
    "rejected_benign": (lambda f: f["records"][0]["decision"].update(decision="REJECT"), "records[0].decision.decision"),
    "unknown_as_truth": (lambda f: f["records"][0]["truth"].append("unknown"), "records[0].truth[1]"),
    "bad_sha": (lambda f: f["classifier"].update(sha256="x"), "classifier.sha256"),
    "bad_debug_path": (lambda f: f["debug"][0].update(path="../escape.json"), "debug[0].path"),
}


@pytest.mark.parametrize("mutation", sorted(TIMELINE_MUTATIONS))
def test_the_timeline_schema_rejects_malformed_facts_naming_the_path(fast, mutation):
    mutate, path = TIMELINE_MUTATIONS[mutation]
    report = timeline_report.timeline_report(fast, timeline_report.timeline_run_id(fast))
    assert validate_report(report) == "drift_timeline"
    assert [r["predicted"] for r in report["facts_provided"]["records"]][::9] == ["benign", UNKNOWN]
    mutate(report["facts_provided"])
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(report)
    assert (caught.value.kind, caught.value.json_path) == ("drift_timeline", f"$.facts_provided.{path}")


DEBUG_MUTATIONS = {
    "unknown_label": (lambda f: f.update(label="mystery"), "label"),
    "approved_unknown": (lambda f: f["decision"].update(decision="APPROVE"), "decision.decision"),
    "score_for_no_class": (lambda f: f["scores"].update(unknown=1.0), "scores"),
    "extra_feature_view": (lambda f: f["features"].update(extra={}), "features"),
    "extra_key": (lambda f: f.update(note="x"), ""),
}


@pytest.mark.parametrize("mutation", sorted(DEBUG_MUTATIONS))
def test_the_debug_schema_rejects_malformed_facts_naming_the_path(fast, mutation):
    mutate, path = DEBUG_MUTATIONS[mutation]
    report = timeline_report.debug_report(fast["debug"][0], "timeline-test")
    assert validate_report(report) == "drift_debug"
    mutate(report["facts_provided"])
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(report)
    assert (caught.value.kind, caught.value.json_path) == ("drift_debug", f"$.facts_provided{'.' if path else ''}{path}")


def test_report_records_omit_features_that_the_snapshots_baselines_and_spread_reproduce_exactly(fast):
    facts = timeline_report.timeline_report(fast, "timeline-test")["facts_provided"]
    for record, full in zip(facts["records"], fast["records"]):
        assert "features" not in record and record["snapshot"] == full["snapshot"]
        base = facts["baselines"][str(record["seed"])]
        for feature in FEATURE_NAMES:
            group, metric = feature.split(".", 1)
            raw = record["snapshot"][group][metric] - base[group][metric]
            assert raw == full["features"]["raw"][feature]
            assert raw / facts["spread"]["scale"][feature] == full["features"]["normalised"][feature]


def test_the_schemas_label_and_class_enums_are_the_classifiers():
    defs = json.loads((schemas_dir() / "drift_timeline.schema.json").read_text())["$defs"]
    assert defs["label"]["enum"] == list(LABELS)
    assert defs["drift_class"]["enum"] == list(CLASSES)
    assert defs["episode_kind"]["enum"] == list(KINDS)


def test_an_invalid_result_writes_nothing(fast, tmp_path):
    broken = {**fast, "line": "TIMELINE nothing"}
    with pytest.raises(ReportSchemaError, match="line"):
        timeline_report.write_timeline(broken, tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_run_id_is_derived_from_the_result(fast):
    run_id = timeline_report.timeline_run_id(fast)
    assert run_id == timeline_report.timeline_run_id(json.loads(json.dumps(fast)))
    assert run_id != timeline_report.timeline_run_id({**fast, "line": fast["line"] + " "})
    assert len(run_id) == len("timeline-") + 16


def test_timeline_main_prints_the_timeline_line_last(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(timeline, "observe", _fake_observe)
    monkeypatch.setattr(timeline, "EPISODES", FAST_EPISODES[:4])
    monkeypatch.setattr(timeline, "SPREAD_SEEDS", (100, 101))
    assert timeline_report.timeline_main(tmp_path, seeds=(3,)) == 0
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1] == "TIMELINE single_axis_correct=3/3 mixed_confident_wrong=0 " \
                                               "benign_correct=1/1"
    assert "seed 3 image_noise_ramp" in out.err
    assert (tmp_path / "timeline.json").exists()


@pytest.mark.parametrize("kwargs, field", [({"seeds": ()}, "seeds"), ({"seeds": (1, 1)}, "seeds"),
                                           ({"spread_seeds": (5,)}, "repeats"), ({"seeds": (-1,)}, "seeds"),
                                           ({"episodes": ()}, "episodes")])
def test_bad_seeds_and_episodes_are_rejected(monkeypatch, kwargs, field):
    monkeypatch.setattr(timeline, "observe", _fake_observe)
    with pytest.raises(ValueError, match=field):
        timeline.run_timeline(**{"seeds": (0,), "spread_seeds": (100, 101), "episodes": FAST_EPISODES, **kwargs})


def test_bad_seed_types_raise_config_errors():
    with pytest.raises(ConfigError, match="spread_seeds"):
        timeline.measure_spread(seeds=("a",))


@pytest.mark.slow
def test_a_real_subset_of_the_timeline_labels_its_episodes(tmp_path):
    episodes = (episode("smooth_benign_drift"), episode("scoring_temperature"), episode("image_noise_ramp"))
    result = timeline.run_timeline(seeds=(101,), episodes=episodes, spread_seeds=(100, 101))
    predicted = {r["episode"]: r["predicted"] for r in result["records"]}
    assert predicted == {"smooth_benign_drift": "benign", "scoring_temperature": "scoring_drift",
                         "image_noise_ramp": "modality_drift"}
    scoring = next(r for r in result["records"] if r["episode"] == "scoring_temperature")
    assert scoring["features"]["raw"]["canary.top1"] == 0.0
    assert scoring["snapshot"]["compare"]["canary_shift_max"] == 0.0
    noise = next(r for r in result["records"] if r["episode"] == "image_noise_ramp")
    assert noise["snapshot"]["compare"]["input_drift_img"] > 0.2
    assert result["line"] == "TIMELINE single_axis_correct=2/2 mixed_confident_wrong=0 benign_correct=1/1"
    timeline_report.write_timeline(result, tmp_path)
    assert json.loads((tmp_path / "timeline.json").read_text())["facts_provided"]["records"][0]["seed"] == 101
