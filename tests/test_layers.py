"""The import graph of bot/, core/, scheduler/ and locales/ draws as a stair (issue 23).

`LAYERS`, low to high, is the stair, written once. A module may import modules of its own layer
or of a lower one. An import of a higher layer (an upward arrow) fails, and so does any cycle,
even inside one layer. Imports are read with `ast` wherever they stand: at module level, inside
functions (an import moved into a function to dodge a cycle is still an arrow) and under
`if TYPE_CHECKING:` (a type is a dependency too: a type hint was one tie of the old knot in
bot/). Each failure names the modules and the file and line of every arrow.

Placing a module: it belongs to the layer of the longest entry of LAYERS that is its dotted name
or a package above it ("core.reports.offload" wins over "core.reports"). A module that no entry
covers takes its root's default (DEFAULTS):
- a new package or module under core/ (core/documents/, core/rules/, core/duplicate_ids.py)
  sits on the domain-services layer: above the store, units, forms, the survey engine and
  classification, below the procedure, reports and start-up;
- a new module under bot/ sits with the chat-free helpers at the foot of bot/.
When the default is wrong for a new package, because something lower reads it (core.access
reads core.inspection.scope) or it reads something higher (core.inspection reads the
procedure), the test names the arrow; add an entry for the package, or for its one module that
differs, to the layer where it belongs. Never add an entry to make an upward arrow pass: move
the code down instead.

The same file checks two other house rules: no handler module imports another handler module
(handlers meet in core/, bot/conversations/session.py and bot/routes.py), and no Python file under
bot/ or core/ is over 450 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
ROOTS = ("locales", "core", "scheduler", "bot")
MAX_LINES = 450

Layers = tuple[tuple[str, tuple[str, ...]], ...]  # (name, entries), low to high
LAYERS: Layers = (
    ("foundations", ("locales", "core.config", "core.text", "core.expr", "core.datafile", "core.private")),
    ("words and sources", ("core.i18n", "core.provenance")),  # the locale; where a data file's rules come from
    ("chat vocabulary", ("core.chat",)),  # messages, payloads, commands, references
    # the store, and what lives directly on it
    ("store", ("core.storage", "core.access", "core.accounts", "core.delivery", "core.inbox", "core.inbox_counter",
               "core.journal", "core.messaging", "core.retention", "core.inspection.scope")),
    ("units", ("core.units", "core.access_log", "core.accounts_admin")),
    ("forms", ("core.surveys",)),
    ("survey engine", ("core.conversation",)),
    ("classification", ("core.classification",)),  # rule packs, B1, Phiếu A
    ("domain services", ("core.households", "core.plans")),  # and every core package no entry names
    ("procedure", ("core.procedure",)),  # QĐ 24/2021
    ("inspection", ("core.inspection",)),  # inspections and re-checks
    ("reports", ("core.reports",)),
    ("data files", ("core.datafiles",)),  # every data file, loaded and checked together
    ("report process", ("core.reports.offload",)),  # loads the data files itself
    ("start-up", ("core.app",)),
    ("scheduler", ("scheduler",)),
    ("bot helpers", ("bot.files", "bot.web", "bot.plain", "bot.uploads", "bot.pickers")),  # and new bot modules
    ("handler context", ("bot.context",)),
    ("command rows", ("bot.routes",)),
    ("conversations", ("bot.conversations",)),
    ("web view", ("bot.webview",)),
    ("handlers", ("bot.handlers",)),  # chat <-> core, one concern each
    ("command table", ("bot.router",)),
    ("chat application", ("bot.app",)),
    ("jobs and runner", ("bot.jobs", "bot.runner")),
    ("channels", ("bot.channels",)),  # Telegram, Zalo, the console
    ("command line", ("bot.cli",)),
)
# root -> the entry whose layer takes the modules no entry covers (and the root package itself)
DEFAULTS = {"core": "core.households", "bot": "bot.files"}


@dataclass(frozen=True)
class Arrow:
    """`source` imports `target`, at `path`:`line`."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path}:{self.line})"


def modules(root: Path = ROOT, roots: Iterable[str] = ROOTS) -> dict[str, Path]:
    """Dotted name -> file of every Python module under the roots (a package by its __init__)."""
    found: dict[str, Path] = {}
    for top in roots:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _target(name: str, known: Mapping[str, Path]) -> str | None:
    """The project module an imported name lands in (`core.x.f` -> `core.x`), if any."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def arrows(known: Mapping[str, Path], root: Path = ROOT) -> list[Arrow]:
    """Every import between project modules, wherever it stands in the file."""
    out: list[Arrow] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        rel = str(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_target(a.name, known) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                # `from pkg import sub` imports the submodule; `from mod import name` the module
                targets = [_target(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base, known)
                           for a in node.names]
            for target in dict.fromkeys(targets):
                if target is not None and target != name:
                    out.append(Arrow(name, target, rel, node.lineno))
    return out


def layer_of(module: str, layers: Layers = LAYERS, defaults: Mapping[str, str] = DEFAULTS) -> int:
    """The index of the module's layer: its longest entry, else its root's default."""
    best, index = "", -1
    for i, (_, entries) in enumerate(layers):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > len(best):
                best, index = entry, i
    if index >= 0:
        return index
    default = defaults.get(module.split(".")[0])
    if default is None:
        raise LookupError(f"{module} is in no layer and its root has no default")
    return layer_of(default, layers, {})


def upward(found: Iterable[Arrow], layers: Layers = LAYERS, defaults: Mapping[str, str] = DEFAULTS) -> list[str]:
    """Each arrow from a lower layer to a higher one, with both layers named."""
    out = []
    for a in found:
        low, high = layer_of(a.source, layers, defaults), layer_of(a.target, layers, defaults)
        if high > low:
            out.append(f"{a}: layer '{layers[low][0]}' imports layer '{layers[high][0]}'")
    return out


def cycles(found: Iterable[Arrow]) -> list[list[Arrow]]:
    """The arrows of every cycle: one group per strongly connected set of two or more modules
    (Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit)."""
    found = list(found)
    graph: dict[str, list[str]] = {}
    for a in found:
        graph.setdefault(a.source, []).append(a.target)
        graph.setdefault(a.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [sorted((a for a in found if a.source in g and a.target in g), key=str) for g in groups]


def shortest_loop(group: list[Arrow]) -> list[Arrow]:
    """One shortest cycle among a group's arrows, to show first: «a -> b -> a» says more than
    the twenty arrows a large group may hold."""
    best: list[Arrow] = []
    for first in group:
        paths: dict[str, list[Arrow]] = {first.target: [first]}
        queue = [first.target]
        while queue and first.source not in paths:
            node = queue.pop(0)
            for a in group:
                if a.source == node and a.target not in paths:
                    paths[a.target] = [*paths[node], a]
                    queue.append(a.target)
        loop = paths.get(first.source, [])
        if loop and (not best or len(loop) < len(best)):
            best = loop
    return best


def handler_to_handler(found: Iterable[Arrow]) -> list[Arrow]:
    """Arrows between two modules of bot/handlers/ (a package's __init__ gathering its own
    step modules is not one handler importing another)."""
    def handler(name: str) -> bool:
        return name.startswith("bot.handlers.")

    return [a for a in found if handler(a.source) and handler(a.target)
            and not a.target.startswith(a.source + ".")]


def long_files(root: Path = ROOT, tops: Iterable[str] = ("bot", "core"), limit: int = MAX_LINES) -> list[str]:
    out = []
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            count = len(path.read_text(encoding="utf-8").splitlines())
            if count > limit:
                out.append(f"{path.relative_to(root)}: {count} lines (at most {limit})")
    return out


def _report(title: str, lines: Iterable[object]) -> str:
    return title + "\n" + "\n".join(f"  {line}" for line in lines)


# ---- the project ------------------------------------------------------------------------------

KNOWN = modules()
ARROWS = arrows(KNOWN)


def _loops(groups: list[list[Arrow]]) -> list[str]:
    return [" -> ".join([loop[0].source, *(f"{a.target} ({a.path}:{a.line})" for a in loop)])
            + (f"; {len(group)} arrows in this knot: " + "; ".join(map(str, group)) if len(group) > len(loop) else "")
            for group in groups for loop in [shortest_loop(group)]]


def test_no_import_cycle() -> None:
    found = cycles(ARROWS)
    assert not found, _report("import cycles (a shortest loop, then every arrow of the knot):", _loops(found))


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    found = upward(ARROWS)
    assert not found, _report("upward imports (move the code down, or place a new package in LAYERS):", found)


def test_no_handler_imports_another_handler() -> None:
    found = handler_to_handler(ARROWS)
    assert not found, _report("handlers importing handlers (share through core/ or bot/conversations/):", found)


def test_no_python_file_under_bot_or_core_is_over_450_lines() -> None:
    found = long_files()
    assert not found, _report("files to split:", found)


def test_every_layer_entry_is_written_once_and_the_graph_is_read() -> None:
    entries = [e for _, layer in LAYERS for e in layer]
    assert len(entries) == len(set(entries)), [e for e in entries if entries.count(e) > 1]
    assert {"core.app", "bot.router", "scheduler.runner"} <= set(KNOWN)
    assert any(a.source == "bot.router" and a.target == "bot.routes" for a in ARROWS)
    assert any(a.source == "core.reports.chart" and a.target == "core.reports.query" for a in ARROWS)


# ---- each check can fail ----------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return modules(root, ("core", "bot"))


def test_the_checks_name_a_cycle_an_upward_arrow_and_a_handler_import(tmp_path: Path) -> None:
    known = _tree(tmp_path, {
        "core/__init__.py": "",
        "core/low.py": "import os\n\n\ndef later() -> None:\n    from core.high import f  # dodging the cycle\n",
        "core/high.py": "from core import low\n\n\ndef f() -> None:\n    pass\n",
        "core/fresh/__init__.py": "from ..high import f\n",  # a relative import, in a package no entry names
        "bot/__init__.py": "",
        "bot/handlers/__init__.py": "",
        "bot/handlers/a.py": "import bot.handlers.b\n",
        "bot/handlers/b.py": "",
    })
    found = arrows(known, tmp_path)
    assert sorted(map(str, found)) == [
        "bot.handlers.a -> bot.handlers.b (bot/handlers/a.py:1)",
        "core.fresh -> core.high (core/fresh/__init__.py:1)",
        "core.high -> core.low (core/high.py:1)",
        "core.low -> core.high (core/low.py:5)",
    ]
    assert [[str(a) for a in group] for group in cycles(found)] == [[
        "core.high -> core.low (core/high.py:1)", "core.low -> core.high (core/low.py:5)"]]
    layers = (("low", ("core.low",)), ("high", ("core.high",)), ("handlers", ("bot.handlers",)))
    rise = "layer 'low' imports layer 'high'"
    assert upward(found, layers, {"core": "core.low"}) == [
        f"core.fresh -> core.high (core/fresh/__init__.py:1): {rise}", f"core.low -> core.high (core/low.py:5): {rise}"]
    assert upward(found, layers, {"core": "core.high"}) == [f"core.low -> core.high (core/low.py:5): {rise}"]
    assert [str(a) for a in handler_to_handler(found)] == ["bot.handlers.a -> bot.handlers.b (bot/handlers/a.py:1)"]


def test_a_cycle_inside_one_layer_and_a_long_file_are_found(tmp_path: Path) -> None:
    known = _tree(tmp_path, {
        "core/__init__.py": "",
        "core/a.py": "from core.b import x\n",
        "core/b.py": "from core.c import y\n",
        "core/c.py": "from core.a import z\n" + "\n" * MAX_LINES,
        "core/d.py": "from core.a import z\n",
    })
    found = arrows(known, tmp_path)
    assert upward(found, (("all", ("core",)),), {}) == []  # one layer: no arrow rises, the cycle is still found
    groups = cycles(found)
    assert [[a.source for a in group] for group in groups] == [["core.a", "core.b", "core.c"]]
    assert _loops(groups) == ["core.a -> core.b (core/a.py:1) -> core.c (core/b.py:1) -> core.a (core/c.py:1)"]
    assert long_files(tmp_path, ("core",)) == [f"core/c.py: {MAX_LINES + 1} lines (at most {MAX_LINES})"]


def test_a_module_is_placed_by_its_longest_entry_or_its_root_default() -> None:
    assert layer_of("core.reports.offload") > layer_of("core.datafiles") > layer_of("core.reports.build")
    assert layer_of("core.inspection.scope") < layer_of("core.access_log") < layer_of("core.inspection.recheck")
    assert layer_of("core.documents.spec") == layer_of("core.rules") == layer_of("core.households")
    assert layer_of("core.classification") < layer_of("core.documents") < layer_of("core.procedure")
    assert layer_of("bot.something_new") == layer_of("bot.files") < layer_of("bot.context")
    assert layer_of("core.app") < layer_of("scheduler.runner") < layer_of("bot.files")
