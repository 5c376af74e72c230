"""mmgate: release gates for multimodal dual-encoder embedding models, run as a pytest plugin."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["DualEncoder", "PairedSet", "Subject", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the public API lazily, so loading the pytest plugin stays cheap without ``--mmgate``."""
    if name in ("DualEncoder", "PairedSet", "Subject"):
        from mmgate.subjects import encoder, paired, subject

        home = {"DualEncoder": encoder, "PairedSet": paired, "Subject": subject}[name]
        return getattr(home, name)
    raise AttributeError(f"module 'mmgate' has no attribute {name!r}")
