"""The layering the README's Architecture table states is the layering the code has: no module
imports a layer above its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mmgate"
LAYERS_BLOCK = re.compile(r"<!-- layers:.*?-->\n(.*?)<!-- /layers -->", re.S)


def readme_layers() -> dict[str, int]:
    """Map each unit named in the README table to its rank (0 = the bottom layer)."""
    block = LAYERS_BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md has no <!-- layers --> table"
    rows = [line for line in block.group(1).splitlines() if line.startswith("| `")]
    ranks: dict[str, int] = {}
    for rank, line in enumerate(reversed(rows)):
        for unit in re.findall(r"`([\w.]+)`", line.split("|")[1]):
            ranks[unit] = rank
    return ranks


def unit_of(module: str) -> str:
    """The layer unit of a dotted module name: its first component under ``mmgate``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mmgate"


def imported_modules(path: Path) -> set[str]:
    """Every ``mmgate...`` module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "mmgate")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mmgate":
            if node.module == "mmgate":
                found.update(f"mmgate.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return found


def module_name(path: Path) -> str:
    """Dotted module name of a source file inside the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_and_top_level_module_has_a_layer_in_the_readme() -> None:
    ranks = readme_layers()
    units = {unit_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert units - set(ranks) == set()


def test_no_module_imports_a_layer_above_its_own() -> None:
    ranks = readme_layers()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = unit_of(module_name(path))
        for target in sorted(imported_modules(path)):
            if target in ("mmgate.DualEncoder", "mmgate.PairedSet", "mmgate.Subject"):
                target = "mmgate"
            if ranks[unit_of(target)] > ranks[own]:
                upward.append(f"{module_name(path)} imports {target}")
    assert upward == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("from mmgate.plugin.session import GateSession\n", encoding="utf-8")
    ranks = readme_layers()
    targets = imported_modules(source)
    assert targets == {"mmgate.plugin.session"}
    assert ranks[unit_of("mmgate.plugin.session")] > ranks["panel"]


def _module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file, TYPE_CHECKING blocks too),
    edges into a package's ``__init__`` (its re-exports) left out."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}

    def resolve(target: str) -> str | None:
        while target not in modules:
            if "." not in target:
                return None
            target = target.rsplit(".", 1)[0]
        return target

    return {name: {resolve(t) for t in imported_modules(path)} - {None, name} - packages
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a list of modules (first repeated last), or []."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_two_modules_import_each_other_even_lazily() -> None:
    assert _cycle(_module_graph()) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
