"""report.html in a real browser: headless Chromium renders the page with its plots (referenced
from plots/ under a strict CSP) and the decision banner at the top. Skips without Chromium."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread, imsave

from mmgate.audit.html_report import BANNER_COLOURS, render_html
from tests.audit.test_html_report import make_decision, make_results

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path) -> np.ndarray:
    shot = page.with_suffix(".shot.png")
    # No network here: without the background-networking flags Chromium keeps trying to reach out.
    subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", f"--user-data-dir={page.parent / 'chromium-profile'}",
                    f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    return imread(str(shot))[..., :3]


def green(image: np.ndarray) -> int:
    """Pixels of the test plot's pure green, a colour nothing else on the page uses."""
    return int(((image[..., 1] > 0.9) & (image[..., 0] < 0.1) & (image[..., 2] < 0.1)).sum())


@pytest.mark.skipif(browser() is None, reason="no headless Chromium on PATH (apt-get install -y chromium)")
def test_headless_chromium_shows_the_banner_and_loads_the_referenced_plots(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    imsave(buffer, np.tile(np.array([0.0, 1.0, 0.0]), (300, 400, 1)), format="png")
    png = buffer.getvalue()
    (tmp_path / "plots").mkdir()
    page = tmp_path / "report.html"
    page.write_text(render_html(make_decision(), make_results(), {"retrieval_seed0.png": png}), "utf-8")
    without_plot = screenshot(page)
    (tmp_path / "plots" / "retrieval_seed0.png").write_bytes(png)
    with_plot = screenshot(page)
    banner = tuple(int(BANNER_COLOURS["REJECT"][i:i + 2], 16) / 255 for i in (1, 3, 5))
    assert np.allclose(with_plot[10, 640], banner, atol=0.02)  # the decision banner is at the top
    assert green(without_plot) == 0 and green(with_plot) > 20_000  # the plot loaded from plots/


def console_lines(page: Path) -> list[str]:
    """Chromium's console and CSP messages while it loads ``page`` (headless, logging to stderr)."""
    done = subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--no-first-run", f"--user-data-dir={page.parent / 'chromium-console'}",
                           "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    return [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]


@pytest.mark.skipif(browser() is None, reason="no headless Chromium on PATH (apt-get install -y chromium)")
def test_the_report_loads_without_console_errors_while_a_broken_page_shows_them(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('deliberate failure')</script></body></html>", "utf-8")
    assert any("deliberate failure" in line for line in console_lines(broken))  # the check can see errors
    (tmp_path / "plots").mkdir()
    page = tmp_path / "report.html"
    page.write_text(render_html(make_decision(), make_results(), {}), "utf-8")
    assert console_lines(page) == []
