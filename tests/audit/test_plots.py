"""Specification of the snapshot and curve plots: valid PNGs of a fixed size, byte-identical for
equal input (also across processes), and clear InputErrors for malformed snapshots."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from mmgate.audit import charts, figure_kit, plots
from mmgate.audit.charts import render_curve_plot
from mmgate.audit.plots import render_snapshot_plots
from mmgate.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_SIZE_IN = {
    "pca": plots.PCA_SIZE_IN,
    "spectra": plots.SPECTRA_SIZE_IN,
    "similarity": plots.SIMILARITY_SIZE_IN,
    "retrieval": plots.RETRIEVAL_SIZE_IN,
    "hubness": plots.HUBNESS_SIZE_IN,
}


def make_snapshot(seed: int = 3, n: int = 120, m: int = 16, d: int = 24, classes: int = 4) -> dict:
    """A JSON-shaped snapshot like the gates put in their evidence."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    labels = rng.integers(0, classes, size=n)
    image = rng.normal(size=(m, 8))
    text = image + 0.3 * rng.normal(size=(m, 8))
    image /= np.linalg.norm(image, axis=1, keepdims=True)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    spectrum = np.sort(rng.gamma(1.0, size=d))[::-1]
    return {
        "seed": seed, "factor": "shape",
        "pca_img": (rng.normal(size=(n, 2)) + labels[:, None]).tolist(),
        "pca_txt": (rng.normal(size=(n, 2)) + labels[:, None]).tolist(),
        "labels": labels.tolist(),
        "spectrum_img": spectrum.tolist(),
        "spectrum_txt": (0.5 * spectrum[::-1].cumsum()[::-1]).tolist(),
        "similarity": (image @ text.T).tolist(),
        "retrieval": {"i2t_recall@1": 0.7, "t2i_recall@1": 0.62, "i2t_recall@5": 0.93,
                      "t2i_recall@5": 0.9, "i2t_mrr": 0.8},
        "k_occurrence_i2t": rng.poisson(10, size=n).tolist(),
        "k_occurrence_t2i": rng.poisson(10, size=n).tolist(),
        "k": 10,
    }


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return render_snapshot_plots(make_snapshot())


def pixel_shape(png: bytes) -> tuple[int, int]:
    return imread(io.BytesIO(png), format="png").shape[:2]


def expected_shape(size_in: tuple[float, float]) -> tuple[int, int]:
    return round(size_in[1] * figure_kit.DPI), round(size_in[0] * plots.DPI)


def test_snapshot_plots_are_named_by_kind_and_seed(rendered):
    assert set(rendered) == {f"{kind}_seed3.png" for kind in EXPECTED_SIZE_IN}


@pytest.mark.parametrize("kind", sorted(EXPECTED_SIZE_IN))
def test_each_snapshot_plot_is_a_png_of_its_fixed_size(rendered, kind):
    png = rendered[f"{kind}_seed3.png"]
    assert png.startswith(PNG_SIGNATURE)
    assert pixel_shape(png) == expected_shape(EXPECTED_SIZE_IN[kind])


def test_snapshot_plots_carry_no_software_or_time_metadata(rendered):
    for png in rendered.values():
        assert b"Software" not in png
        assert b"tIME" not in png


def test_equal_snapshots_give_byte_identical_plots(rendered):
    assert render_snapshot_plots(make_snapshot()) == rendered


def test_plots_are_byte_identical_in_a_fresh_process_with_another_hash_seed(rendered, tmp_path):
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_text(json.dumps(make_snapshot()))
    script = (
        "import hashlib, json, sys\n"
        "from mmgate.audit.plots import render_snapshot_plots\n"
        "out = render_snapshot_plots(json.load(open(sys.argv[1])))\n"
        "print(json.dumps({k: hashlib.sha256(v).hexdigest() for k, v in out.items()}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, "-c", script, str(snapshot_file)], capture_output=True,
                          text=True, env=env, check=True)
    in_process = {name: hashlib.sha256(png).hexdigest() for name, png in rendered.items()}
    assert json.loads(proc.stdout) == in_process


def test_changing_the_similarity_matrix_changes_only_the_heat_map(rendered):
    snapshot = make_snapshot()
    snapshot["similarity"] = np.eye(16).tolist()
    changed = render_snapshot_plots(snapshot)
    assert changed["similarity_seed3.png"] != rendered["similarity_seed3.png"]
    assert changed["pca_seed3.png"] == rendered["pca_seed3.png"]


def test_unlabelled_collapsed_and_many_class_snapshots_render():
    unlabelled_collapsed = make_snapshot(seed=1, n=30, m=1, d=5)
    unlabelled_collapsed.update(labels=None, factor="", spectrum_img=[0.0] * 5,
                                k_occurrence_t2i=[0] * 29 + [300])
    many_classes = make_snapshot(seed=2, n=60, m=3, d=6, classes=30)
    for snapshot in (unlabelled_collapsed, many_classes):
        out = render_snapshot_plots(snapshot)
        seed = snapshot["seed"]
        assert pixel_shape(out[f"pca_seed{seed}.png"]) == expected_shape(plots.PCA_SIZE_IN)
        assert pixel_shape(out[f"spectra_seed{seed}.png"]) == expected_shape(plots.SPECTRA_SIZE_IN)


@pytest.mark.parametrize("key", plots.SNAPSHOT_KEYS)
def test_a_missing_snapshot_key_raises_input_error_naming_it(key):
    snapshot = make_snapshot()
    del snapshot[key]
    with pytest.raises(InputError, match=f"'{key}'"):
        render_snapshot_plots(snapshot)


@pytest.mark.parametrize(("change", "named"), [
    ({"pca_img": [[0.0, float("nan")]] * 120}, "pca_img"),
    ({"pca_txt": [[0.0, 1.0, 2.0]] * 120}, "pca_txt"),
    ({"pca_img": [[0.0, 1.0]] * 513}, "pca_img"),
    ({"labels": [0, 1, 2]}, "labels"),
    ({"labels": [0.5] * 120}, "labels"),
    ({"spectrum_img": [1.0, 2.0, 3.0]}, "spectrum_img"),
    ({"spectrum_txt": [1.0, -0.5]}, "spectrum_txt"),
    ({"similarity": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}, "similarity"),
    ({"similarity": np.zeros((49, 49)).tolist()}, "similarity"),
    ({"retrieval": {"i2t_recall@1": 0.5, "t2i_recall@1": 0.5, "i2t_recall@5": 0.9}},
     "t2i_recall@5"),
    ({"retrieval": {"i2t_recall@1": 1.5, "t2i_recall@1": 0.5}}, "i2t_recall@1"),
    ({"retrieval": {"i2t_mrr": 0.5}}, "retrieval"),
    ({"k_occurrence_i2t": [1, -1, 2]}, "k_occurrence_i2t"),
    ({"k": -1}, "'k'"),
    ({"seed": True}, "seed"),
    ({"factor": 3}, "factor"),
])
def test_malformed_snapshot_values_raise_input_error_naming_the_field(change, named):
    snapshot = {**make_snapshot(), **change}
    with pytest.raises(InputError, match=named):
        render_snapshot_plots(snapshot)


def test_curve_plot_is_a_deterministic_png_of_fixed_size():
    series = {"image -> text": ([0.0, 0.1, 0.2], [0.8, 0.7, 0.55]),
              "cost $\\notacommand$": ([0.0, 0.2], [0.75, 0.5])}
    first = render_curve_plot("top-1 vs noise", "noise", series, "top-1")
    assert first.startswith(PNG_SIGNATURE)
    assert pixel_shape(first) == expected_shape(charts.CURVE_SIZE_IN)
    assert render_curve_plot("top-1 vs noise", "noise", series, "top-1") == first
    assert render_curve_plot("top-1 vs blur", "noise", series, "top-1") != first


@pytest.mark.parametrize(("series", "named"), [
    ({}, "series"),
    ({"a": ([0.0, 1.0], [1.0])}, "'a'"),
    ({"a": ([], [])}, "'a'"),
    ({"a": ([0.0], [float("inf")])}, "'a'"),
    ({"a": [0.0, 1.0, 2.0]}, "'a'"),
])
def test_malformed_curve_series_raise_input_error(series, named):
    with pytest.raises(InputError, match=named):
        render_curve_plot("t", "x", series, "y")


HEATMAP_ROWS = ["healthy [APPROVE]", "collapse_low_temperature [REJECT]"]
HEATMAP_COLUMNS = ["retrieval_top1", "mean_cosine", "hubness"]
HEATMAP_VALUES = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.25]]


def test_heatmap_is_a_png_and_byte_identical_for_equal_input():
    first = charts.render_heatmap("matrix", HEATMAP_ROWS, HEATMAP_COLUMNS, HEATMAP_VALUES, "failed share")
    second = charts.render_heatmap("matrix", HEATMAP_ROWS, HEATMAP_COLUMNS, HEATMAP_VALUES, "failed share")
    assert first.startswith(PNG_SIGNATURE)
    assert first == second
    assert imread(io.BytesIO(first)).ndim == 3


def test_heatmap_cells_change_the_image():
    changed = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.25]]
    assert charts.render_heatmap("m", HEATMAP_ROWS, HEATMAP_COLUMNS, HEATMAP_VALUES, "v") != \
        charts.render_heatmap("m", HEATMAP_ROWS, HEATMAP_COLUMNS, changed, "v")


@pytest.mark.parametrize("values, match", [
    ([[0.0, 0.0, 0.0]], "expected shape"),
    ([[0.0, 0.0, 0.0], [0.0, 1.5, 0.0]], r"in \[0, 1\]"),
    ([[0.0, 0.0, 0.0], [0.0, float("nan"), 0.0]], "NaN"),
])
def test_heatmap_rejects_malformed_values(values, match):
    with pytest.raises(InputError, match=match):
        charts.render_heatmap("m", HEATMAP_ROWS, HEATMAP_COLUMNS, values, "v")


def test_heatmap_rejects_empty_labels():
    with pytest.raises(InputError, match="row_labels"):
        charts.render_heatmap("m", [], HEATMAP_COLUMNS, np.zeros((0, 3)), "v")


def test_retrieval_and_hubness_plots_draw_the_gate_limits_and_only_they_change():
    snapshot = make_snapshot()
    plain_plots = render_snapshot_plots(snapshot)
    limited = render_snapshot_plots(snapshot, limits={"recall@1": 0.55, "recall@5": 0.85,
                                                      "hubness_concentration": 0.25})
    changed = sorted(name for name in plain_plots if plain_plots[name] != limited[name])
    assert changed == ["hubness_seed3.png", "retrieval_seed3.png"]
    assert pixel_shape(limited["retrieval_seed3.png"]) == pixel_shape(plain_plots["retrieval_seed3.png"])


def test_limits_must_be_finite_numbers():
    with pytest.raises(InputError, match="recall@1"):
        render_snapshot_plots(make_snapshot(), limits={"recall@1": float("nan")})
