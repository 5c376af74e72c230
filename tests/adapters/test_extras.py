"""``import mmgate.adapters`` needs none of the optional libraries; using an adapter whose library
is missing raises MissingExtraError naming the extra to install. Runs without torch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_without(blocked: list[str], body: str) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh interpreter in which the modules ``blocked`` cannot be imported."""
    code = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n" + \
        textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_import_works_without_torch_and_the_error_on_use_names_the_extra():
    done = run_without(["torch"], """
        import mmgate.adapters
        from mmgate.errors import ConfigError
        try:
            from mmgate.adapters import TorchEncoder
        except ImportError as exc:
            assert isinstance(exc, ConfigError), type(exc)
            print(exc)
        else:
            raise SystemExit("TorchEncoder imported without torch")
    """)
    assert done.returncode == 0, done.stderr
    assert "pip install 'mmgate[torch]'" in done.stdout
    assert "needs the module 'torch'" in done.stdout


ADAPTERS = [
    ("TransformersEncoder", "transformers", "transformers"),
    ("SentenceTransformersEncoder", "sentence_transformers", "sentence-transformers"),
]


def name_the_extra(name: str, blocked: list[str]) -> str:
    done = run_without(blocked, f"""
        import mmgate.adapters
        try:
            getattr(mmgate.adapters, {name!r})
        except ImportError as exc:
            print(exc)
    """)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name, blocked, extra", ADAPTERS)
def test_each_adapter_names_its_own_extra(name, blocked, extra):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("needs torch installed: without it every adapter names mmgate[torch] first")
    assert f"pip install 'mmgate[{extra}]'" in name_the_extra(name, [blocked])


@pytest.mark.parametrize("name, blocked, extra", ADAPTERS)
def test_without_torch_every_adapter_names_the_torch_extra_first(name, blocked, extra):
    said = name_the_extra(name, ["torch", blocked])
    assert "pip install 'mmgate[torch]'" in said
    assert f"mmgate[{extra}]" not in said


def test_unknown_names_are_attribute_errors():
    import mmgate.adapters

    with pytest.raises(AttributeError, match="NoSuchEncoder"):
        getattr(mmgate.adapters, "NoSuchEncoder")
    assert set(mmgate.adapters.__all__) == {"MissingExtraError", "SentenceTransformersEncoder",
                                            "TorchEncoder", "TransformersEncoder"}
