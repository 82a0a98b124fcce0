"""Finds every English template the code passes to the translator (for the catalog test)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOTS = ("bot", "handlers")
SKIP = ("bot/sandbox",)
CALLS = {"t", "plain", "Problem", "of"}  # t("..."), t.plain("..."), Problem("..."), Msg.of("...")
MARKED = "marked"  # Msg.marked(":emoji:", "...")
# Param("requestCpu", label="CPU cores", help="...", ...): the parameter spec's texts.
PARAM_TEXTS = {"label", "help", "short", "required", "mismatch"}


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def templates(base: Path) -> set[str]:
    found: set[str] = set()
    for root in ROOTS:
        for path in (base / root).rglob("*.py"):
            if any(str(path.relative_to(base)).startswith(s) for s in SKIP):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and node.args:
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                    # tr(lang)("...") and tr(lang).plain("...") too
                    if isinstance(func, ast.Call) and getattr(func.func, "id", None) == "tr":
                        name = "t"
                    if name in CALLS and (text := _literal(node.args[0])):
                        found.add(text)
                    if name == MARKED and len(node.args) > 1 and (text := _literal(node.args[1])):
                        found.add(text)
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Param":
                    for keyword in node.keywords:
                        if keyword.arg in PARAM_TEXTS and (text := _literal(keyword.value)):
                            found.add(text)
            found |= _catalog_dicts(tree)
    return found


def _catalog_dicts(tree: ast.Module) -> set[str]:
    """Values of the label tables that are translated when shown."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            name = getattr(target, "id", "")
            tables = {"KIND_LABELS", "STATE_NAMES"}
            if name in tables and isinstance(node.value, ast.Dict):
                for value in node.value.values:
                    if (text := _literal(value)) is not None:
                        found.add(text)
                    elif isinstance(value, ast.Tuple):
                        for item in value.elts[:2]:
                            if (text := _literal(item)) is not None:
                                found.add(text)
    return found


if __name__ == "__main__":
    for text in sorted(templates(Path("."))):
        print(repr(text))
