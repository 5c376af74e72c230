"""A run that cannot be set up is not a model failure: the setup check (``mmgate.plugin.preflight``)
finds it once, before any gate runs, reports each cause once in a few lines, exits 13 with decision
SETUP_ERROR, and still leaves a bundle that ``python -m mmgate verify`` accepts. That includes a
canary input that cannot be read (a corrupt or deleted image file of a manifest canary) and an
encoder that raises on the canary: found by the check's pass over the clean canary, named once."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

from mmgate.gating.contract import Contract
from mmgate.plugin.context import RunContext
from mmgate.plugin.preflight import (
    MIN_CANARY_PAIRS,
    NAMED_ROWS,
    CanaryPass,
    canary_pass,
    subject_problems,
    tower_problems,
)
from mmgate.plugin.runspec import RunSpec
from mmgate.plugin.settings import resolve_settings
from mmgate.records.reports import ReportSchemaError, validate_report
from mmgate.records.schema_registry import load_schemas
from mmgate.subjects.paired import PairedSet
from mmgate.subjects.subject import Subject
from tests.plugin_support import BAD_FILE, assert_verified, run_gates, write_manifest_subject, write_subject
from tests.report_samples import sample_report

pytestmark = pytest.mark.usefixtures("isolated_home")

MAX_LINES = 60  # a setup error is a few lines, not one traceback per gate case
MAX_MMGATE_LINES = 20  # what mmgate itself prints for one input fault, its section header included

# Subjects that cannot be gated, by MODE: towers of different dimensions, a factory returning None.
BROKEN_MODULE = '''
import numpy as np
from mmgate import PairedSet, Subject

MODE = {mode!r}
N = 64


class Encoder:
    def embed_images(self, batch):
        return np.random.default_rng(0).standard_normal((len(batch), 32))

    def embed_texts(self, batch):
        return np.random.default_rng(1).standard_normal((len(batch), 64))


def make():
    if MODE == "returns_none":
        return None
    ids = np.arange(N)
    return Subject(name="broken-" + MODE, encoder=Encoder(), canary=PairedSet(ids, [f"item {{i}}" for i in ids]))
'''


def clean_passes(pytester: pytest.Pytester) -> list[str]:
    """The passes over the whole clean canary the manifest subject's encoder saw: "MODALITY PID"."""
    log = pytester.path / "passes.log"
    return log.read_text().splitlines() if log.exists() else []


def mmgate_lines(run) -> list[str]:
    """What mmgate printed on standard output: its lines, its section header and the indented lines
    a message of its continues on; pytest's own lines left out."""
    lines, inside = [], False
    for line in run.result.stdout.lines:
        inside = line.startswith("mmgate") or " mmgate " in line or (inside and line.startswith(" "))
        if inside:
            lines.append(line)
    return lines


@pytest.fixture
def isolated_home(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _broken(pytester: pytest.Pytester, mode: str) -> str:
    pytester.makepyfile(broken=BROKEN_MODULE.format(mode=mode))
    return "broken:make"


def assert_setup_error(run, cause: str) -> dict:
    """Exit 13, the cause printed once, a short output, no gate ran, a verified bundle that records
    the cause; returns the decision's facts."""
    assert run.decision == "SETUP_ERROR" and run.result.ret == 13, run.output
    assert run.output.count(cause) == 1, run.output
    assert len(run.output.splitlines()) < MAX_LINES, run.output
    assert "Traceback" not in run.output and "gate errored" not in run.output
    assert_verified(run)
    facts = run.report("release_decision.json")["facts_provided"]
    assert facts["decision"] == "SETUP_ERROR" and facts["exit_code"] == 13
    assert any(cause in error for error in facts["setup_errors"]), facts["setup_errors"]
    counts = facts["counts"]
    assert counts["missing"] == sum(counts.values()) > 0  # every gate case recorded, none ran
    assert not facts["passed_gates"] and not facts["failed_gates"] and not facts["errored_gates"]
    return facts


@pytest.mark.parametrize("workers", ["0", "2"])
def test_unimportable_subject_is_one_setup_error(pytester, workers):
    run = run_gates(pytester, "--mmgate-subject", "nosuchmod:make_subject", "--mmgate-seeds", "2",
                    "-n", workers)
    assert_setup_error(run, "cannot import module 'nosuchmod'")
    assert "created: " not in run.output  # no xdist worker was started for a run that cannot start


def test_factory_that_raises_is_a_setup_error(pytester):
    spec = write_subject(pytester, "factory_raises")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert_setup_error(run, "ValueError: no weights at /models/clip.bin")


def test_factory_returning_none_is_a_setup_error(pytester):
    run = run_gates(pytester, "--mmgate-subject", _broken(pytester, "returns_none"), "--mmgate-seeds", "1")
    assert_setup_error(run, "returned NoneType; expected mmgate.Subject")


def test_invalid_contract_is_a_setup_error(pytester):
    spec = write_subject(pytester, "healthy")
    pytester.makefile(".toml", contract="min_retrieval_topone = 0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-contract", "contract.toml")
    assert_setup_error(run, "unknown contract key")


def test_a_device_torch_cannot_use_is_a_setup_error(pytester):
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: the run is a subprocess
        pytest.skip("--mmgate-device needs torch (pip install 'mmgate[torch]')")
    spec = write_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-device", "nosuchdevice")
    assert_setup_error(run, "--mmgate-device: device 'nosuchdevice' is not usable by torch")


def test_ranks_on_the_cpu_torch_device_give_the_same_decision_and_evidence(pytester):
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: the run is a subprocess
        pytest.skip("--mmgate-device needs torch (pip install 'mmgate[torch]')")
    spec = write_subject(pytester, "healthy")
    plain = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-out", "plain")
    on_torch = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-device", "cpu",
                         "--mmgate-out", "torch")
    assert plain.decision == on_torch.decision == "APPROVE", on_torch.output
    retrieval = {key: gate["measured"] for key, gate in plain.gates().items() if gate["gate"].startswith("retrieval")}
    assert retrieval and retrieval == {key: on_torch.gates()[key]["measured"] for key in retrieval}


@pytest.mark.parametrize("fault, workers, problem", [
    ("corrupt", "0", "cannot decode the image (cannot identify image file)"),
    ("missing", "0", "cannot read the file (No such file or directory)"),
    ("corrupt", "2", "cannot decode the image (cannot identify image file)"),
], ids=["corrupt", "missing", "corrupt-xdist"])
def test_an_unreadable_canary_image_is_one_setup_error_naming_file_and_row(pytester, fault, workers, problem):
    run = run_gates(pytester, "--mmgate-subject", write_manifest_subject(pytester, fault), "--mmgate-seeds", "1",
                    "-n", workers)
    where = f"canary.csv: row 18, column 'image': {pytester.path / 'canary' / BAD_FILE}: {problem}"
    assert_setup_error(run, where)
    assert run.output.count(BAD_FILE) == 1, run.output
    assert len(mmgate_lines(run)) <= MAX_MMGATE_LINES, run.output
    assert "created: " not in run.output  # the check ran once, in the controller; no worker started


def test_many_unreadable_images_name_the_first_and_count_the_rest(pytester):
    spec = write_manifest_subject(pytester, "corrupt", corrupt=NAMED_ROWS + 5)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert_setup_error(run, "5 more unreadable image inputs, at canary rows 27 to 31 (15 of 40 rows unreadable in all)")
    named = [f"img{i:03d}.png" for i in range(17, 17 + NAMED_ROWS)]
    assert [run.output.count(name) for name in named] == [1] * NAMED_ROWS, run.output
    assert "img027.png" not in run.output
    assert len(mmgate_lines(run)) <= MAX_MMGATE_LINES, run.output


def _torch_encoder_subject(pytester: pytest.Pytester) -> str:
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: the run is a subprocess
        pytest.skip("TorchEncoder needs torch (pip install 'mmgate[torch]')")
    return write_manifest_subject(pytester, "preprocess_raises")


@pytest.mark.parametrize("build, cause, frame", [
    (lambda pytester: write_manifest_subject(pytester, "encoder_raises"),
     "the image encoder (embed_images) raised on canary rows 0:40: ValueError: preprocess: expected 224x224 "
     "images, got 4x4 [...]", r"manifest_subject\.py:\d+ in embed_images"),
    (lambda pytester: write_subject(pytester, "encoder_raises"),
     "the text encoder (embed_texts) raised on canary rows 0:64: RuntimeError: tokenizer exploded",
     r"user_subject\.py:\d+ in embed_texts"),
    (_torch_encoder_subject,
     "the image encoder (embed_images) raised on canary rows 0:40: InputError: TorchEncoder.embed_images (rows "
     "0:32 of the batch): preprocess failed on item 0 (ndarray): ValueError: Resize: expected a PIL image, got "
     "ndarray", r"manifest_subject\.py:\d+ in preprocess"),
], ids=["images", "texts", "preprocess"])
def test_an_encoder_that_raises_on_the_canary_is_one_setup_error_not_a_reject(pytester, build, cause, frame):
    run = run_gates(pytester, "--mmgate-subject", build(pytester), "--mmgate-seeds", "1")
    assert_setup_error(run, cause)
    assert re.search(re.escape(cause) + r" \(raised at \S*" + frame + r"\); no gate can measure", run.output), run.output
    assert len(mmgate_lines(run)) <= MAX_MMGATE_LINES, run.output
    assert "REJECT" not in run.output


@pytest.mark.parametrize("workers, processes", [("0", 1), ("2", 2)], ids=["serial", "xdist"])
def test_the_clean_canary_is_embedded_once_per_process(pytester, workers, processes):
    # serial: the gates adopt the setup check's pass; under xdist the worker gating seed 0 embeds it again
    spec = write_manifest_subject(pytester, "healthy")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-n", workers, "-k", "retrieval_top1")
    assert run.decision == "INCOMPLETE", run.output
    assert {g["status"] for g in run.gates().values() if g["gate"] == "retrieval_top1"} == {"passed"}
    passes = clean_passes(pytester)
    assert sorted(line.split()[0] for line in passes) == sorted(["image", "text"] * processes), passes
    assert len({line.split()[1] for line in passes}) == processes, passes


def test_an_interrupt_during_the_canary_pass_ends_the_run_incomplete(pytester):
    run = run_gates(pytester, "--mmgate-subject", write_manifest_subject(pytester, "interrupt"), "--mmgate-seeds", "1")
    assert run.decision == "INCOMPLETE" and run.result.ret == 11, run.output
    assert "mmgate: interrupted during the setup check; no gate ran" in run.output
    assert_verified(run)


def test_towers_of_different_dimensions_name_both(pytester):
    run = run_gates(pytester, "--mmgate-subject", _broken(pytester, "towers"), "--mmgate-seeds", "2", "-n", "2")
    facts = assert_setup_error(run, "the image tower (encoder.embed_images) returns 32-dimensional embeddings "
                                    "and the text tower (encoder.embed_texts) 64-dimensional ones")
    assert facts["subject"]["name"] == "broken-towers"
    assert "differs from earlier batches" not in run.output


def test_a_three_pair_canary_is_a_setup_error_naming_the_minimum(pytester):
    spec = write_subject(pytester, "healthy", n=3)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1")
    assert_setup_error(run, f"has 3 pairs; mmgate needs at least {MIN_CANARY_PAIRS}")
    assert "CI [1, 1]" in run.output and "recall@5" in run.output  # why the minimum exists


def test_every_cause_is_reported_once_each(pytester):
    spec = write_subject(pytester, "healthy", n=3)
    pytester.makefile(".toml", contract="min_retrieval_topone = 0.5\n")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "--mmgate-contract", "contract.toml")
    facts = assert_setup_error(run, "unknown contract key")
    assert run.output.count("mmgate: setup error:") == 2 == len(facts["setup_errors"])
    assert run.output.count(f"mmgate needs at least {MIN_CANARY_PAIRS}") == 1


def test_a_healthy_subject_passes_the_check_and_is_approved(pytester):
    spec = write_subject(pytester, "healthy", n=MIN_CANARY_PAIRS)
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-n", "2")
    assert run.decision == "APPROVE" and run.result.ret == 0, run.output
    assert "setup error" not in run.output
    assert_verified(run)


def test_no_baseline_asked_for_is_one_not_applicable_reason_even_when_embeddings_are_unusable(pytester):
    spec = write_subject(pytester, "nan")
    run = run_gates(pytester, "--mmgate-subject", spec, "--mmgate-seeds", "1", "-k", "drift_budget or health")
    assert run.decision == "REJECT" and run.result.ret == 10, run.output
    gates = run.gates().values()
    budgets = {g["status"] for g in gates if g["gate"] == "drift_budget"}
    assert budgets == {"not_applicable"}
    reasons = {g["reason"] for g in gates if g["gate"] == "drift_budget"}
    assert reasons == {"no baseline to compare against (--mmgate-baseline PATH)"}
    row = [line for line in run.result.stdout.lines if line.startswith("drift_budget ")]
    assert len(row) == 1 and "no baseline to compare against" in row[0], run.output
    health = {g["status"] for g in gates if g["gate"] == "numerical_health"}
    assert health == {"error"}  # cannot run on unusable embeddings: an error, like every other gate
    assert "NaN" in run.output
    assert_verified(run)


# The check itself, without a pytest run.

class _Towers:
    def __init__(self, d_img: int, d_txt: int, raises: bool = False) -> None:
        self.d_img, self.d_txt, self.raises = d_img, d_txt, raises

    def embed_images(self, batch):
        return np.ones((len(batch), self.d_img))

    def embed_texts(self, batch):
        if self.raises:
            raise RuntimeError("tokenizer exploded")
        return np.ones((len(batch), self.d_txt))


def _subject(encoder, n: int = 40) -> Subject:
    ids = np.arange(n)
    return Subject("probe", encoder, PairedSet(ids, [f"item {i}" for i in ids]))


def test_the_probe_compares_the_towers_dimensions():
    assert tower_problems(_subject(_Towers(16, 16))) == []
    (problem,) = tower_problems(_subject(_Towers(16, 24)))
    assert "16-dimensional" in problem and "24-dimensional" in problem


def test_an_encoder_failing_on_the_probe_is_left_to_the_canary_pass():
    subject = _subject(_Towers(16, 16, raises=True))
    assert tower_problems(subject) == []  # no dimension to compare; the canary pass names the exception
    checked = canary_pass(subject, batch_size=16)
    assert checked.embeddings is None
    (problem,) = checked.problems
    assert "the text encoder (embed_texts) raised on canary rows 0:16: RuntimeError: tokenizer exploded" in problem


def test_unusable_output_is_left_to_the_gates():
    class NaNs(_Towers):
        def embed_images(self, batch):
            out = super().embed_images(batch)
            out[0, 0] = np.nan
            return out

    assert canary_pass(_subject(NaNs(8, 8))) == CanaryPass()  # no embeddings, no setup problem: the model's failure


class _Lazy:
    """Images read lazily, row by row; the rows in ``bad`` raise a KeyError."""

    def __init__(self, n: int, bad: set[int]) -> None:
        self.n, self.bad = n, bad

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if i in self.bad:
            raise KeyError(f"blob {i}")
        return np.full(4, float(i))


def test_unreadable_rows_are_named_one_by_one_then_counted():
    bad = {3, *range(20, 40)}
    ids = np.arange(40)
    subject = Subject("lazy", _Towers(4, 4), PairedSet(_Lazy(40, bad), [f"item {i}" for i in ids]))
    problems = canary_pass(subject, batch_size=8).problems
    assert len(problems) == NAMED_ROWS + 1
    assert problems[0] == "canary 'canary' of subject 'lazy': image row 3 cannot be read: KeyError: 'blob 3'"
    assert problems[-1] == ("canary 'canary' of subject 'lazy': 11 more unreadable image inputs, at canary rows "
                            "29 to 39 (21 of 40 rows unreadable in all)")


def test_an_image_file_several_rows_name_is_one_fault(tmp_path):
    image = pytest.importorskip("PIL.Image")
    for i in range(MIN_CANARY_PAIRS):
        image.new("RGB", (4, 4), (i, i, i)).save(tmp_path / f"img{i:03d}.png")
    (tmp_path / "img005.png").write_bytes(b"not a png")
    rows = [f"img{i:03d}.png,item {i}" for i in range(MIN_CANARY_PAIRS)] + ["img005.png,item 5 again"] * 2
    (tmp_path / "canary.csv").write_text("image,caption\n" + "".join(f"{row} {n}\n" for n, row in enumerate(rows)))
    subject = Subject("coco-like", _Towers(4, 4), PairedSet.from_manifest(tmp_path / "canary.csv"))
    (problem,) = canary_pass(subject, batch_size=4).problems
    assert problem.count("img005.png") == 1 and problem.startswith("canary 'canary' of subject 'coco-like': image "
                                                                    "cannot be read: "), problem
    assert problem.endswith(": cannot decode the image (cannot identify image file) (2 more rows name the same "
                            "file)"), problem


def test_a_serial_run_embeds_the_canary_once(tmp_path):
    class Counting(_Towers):
        calls = 0

        def embed_images(self, batch):
            Counting.calls += 1
            return np.random.default_rng(len(batch)).standard_normal((len(batch), self.d_img))

    subject = _subject(Counting(8, 8))
    checked = canary_pass(subject, batch_size=64)
    spec = RunSpec(settings=resolve_settings({}, {}, tmp_path), contract=Contract(), problems=(), config_texts=())
    context = RunContext(spec)
    context.adopt_subject(subject, checked.embeddings)
    assert context.embed(subject, subject.canary) is checked.embeddings
    assert Counting.calls == 1 and context.embeddings_cache.computations == 0


def test_the_minimum_canary_size_is_inclusive():
    assert subject_problems(_subject(_Towers(8, 8), n=MIN_CANARY_PAIRS)) == []
    (problem,) = subject_problems(_subject(_Towers(8, 8), n=MIN_CANARY_PAIRS - 1))
    assert f"at least {MIN_CANARY_PAIRS}" in problem


@pytest.mark.parametrize("facts", [
    {"decision": "SETUP_ERROR", "exit_code": 13},                                   # no cause
    {"decision": "SETUP_ERROR", "exit_code": 10, "setup_errors": ["subject: x"]},  # wrong exit code
    {"decision": "REJECT", "exit_code": 10, "setup_errors": ["subject: x"]},       # causes, no setup error
], ids=["no_cause", "wrong_exit", "not_a_setup_error"])
def test_the_schema_ties_setup_errors_to_their_decision_and_exit_code(facts):
    report = sample_report("release_decision")
    report["facts_provided"].update(facts)
    with pytest.raises(ReportSchemaError):
        validate_report(report, load_schemas())
    report["facts_provided"].update(decision="SETUP_ERROR", exit_code=13, setup_errors=["subject: x"],
                                    passed_gates=[], failed_gates=[], errored_gates=[])
    assert validate_report(report, load_schemas()) == "release_decision"
