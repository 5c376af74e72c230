"""Fixtures shared by the lazy image readers' tests (manifest and COCO captions)."""

from __future__ import annotations

import pytest


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path Pillow is asked to open from now on (skips without Pillow)."""
    image = pytest.importorskip("PIL.Image")
    seen: list[str] = []
    real = image.open

    def spy(path, *args, **kwargs):
        seen.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(image, "open", spy)
    return seen
