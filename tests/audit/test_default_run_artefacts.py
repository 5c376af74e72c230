"""Sizes and shape of what ``pytest --mmgate`` leaves behind on the embedded default (one serial
run, shared by the module): a PR-comment summary, a small HTML page, a JUnit XML without images,
each piece of evidence stored once, and no zip unless ``--mmgate-zip`` asks for one."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mmgate.audit.verify import verify_bundle
from tests.plugin_support import (
    DECISION_LINE,
    assert_verified,
    run_gates,
    write_subject,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("default-run")
    done = subprocess.run([sys.executable, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider", "-q",
                           "-n", "0", "--junitxml", str(work / "junit.xml")],
                          cwd=work, capture_output=True, text=True, timeout=900)
    found = DECISION_LINE.findall(done.stdout)
    assert found, done.stdout[-3000:] + done.stderr[-3000:]
    return work, Path(found[-1][1].strip()), found[-1][0]


def test_the_default_run_approves_and_its_bundle_verifies(default_run):
    work, bundle, decision = default_run
    assert decision == "APPROVE"
    assert verify_bundle(bundle).ok, verify_bundle(bundle).problems


def test_summary_md_fits_a_pull_request_comment(default_run):
    text = (default_run[1] / "summary.md").read_text("utf-8")
    assert len(text.splitlines()) <= 60 and len(text.encode()) <= 8_000
    assert "| recall@1 | image->text |" in text and "| recall@5 | text->image |" in text
    assert "| `retrieval_top1` | passed | 8 passed |" in text
    assert text.count("no baseline to compare against") == 2  # drift_budget, drift_diagnosis: once each
    assert "](" not in text and "http" not in text


def test_report_html_is_small_and_references_the_plots(default_run):
    bundle = default_run[1]
    page = (bundle / "report.html").read_text("utf-8")
    assert len(page.encode()) <= 1_500_000
    assert "base64" not in page
    assert page.index('id="headline"') < page.index('id="gates"') < page.index('id="cases"') \
        < page.index('id="plots"')
    for name in ("retrieval_seed0.png", "hubness_seed3.png"):
        assert f'src="plots/{name}"' in page and (bundle / "plots" / name).is_file()


def test_junit_xml_has_no_images_and_states_the_decision(default_run):
    work, bundle, _ = default_run
    data = (work / "junit.xml").read_bytes()
    assert len(data) <= 500_000
    assert b"mmgate_plots" not in data and b"mmgate_result" not in data and b"iVBORw0KGgo" not in data
    suite = ET.fromstring(data).find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["mmgate_decision"] == "APPROVE" and props["mmgate_bundle"] == str(bundle)
    case = suite.find("testcase[@name='test_retrieval_top1[seed0-image_to_text]']")
    shown = {p.get("name"): p.get("value") for p in case.find("properties")}
    assert shown["status"] == "passed" and shown["threshold"].startswith(">= ")
    assert " [" in shown["measured"]


def test_evidence_is_stored_once_and_the_decision_carries_the_headline(default_run):
    work, bundle, _ = default_run
    assert not (bundle / "evidence").exists()
    assert not (bundle.parent / f"{bundle.name}.zip").exists()
    facts = json.loads((bundle / "release_decision.json").read_text("utf-8"))["facts_provided"]
    recall = {(h["metric"], h["side"]): h for h in facts["headline"]}
    entry = recall["recall@1", "image_to_text"]
    assert entry["cases"] == 4 and entry["min"] <= entry["mean"] <= entry["max"]
    assert {"value", "ci_low", "ci_high"} <= set(entry["worst"]["measured"])


def test_mmgate_zip_adds_a_zip_that_verifies(pytester: pytest.Pytester):
    run = run_gates(pytester, "--mmgate-subject", write_subject(pytester), "--mmgate-zip", "-n", "0",
                    "--mmgate-seeds", "1")
    assert run.bundle is not None, run.output
    assert (run.bundle.parent / f"{run.bundle.name}.zip").is_file()
    assert_verified(run)
