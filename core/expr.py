"""A small, safe expression language for skip logic, derived values and indicator rules.

Forms and rule packs are data that officials may edit, so they cannot hold Python code.
Expressions use Python syntax but only comparisons, arithmetic, boolean logic, `x if c else y`,
`in (...)` and a fixed set of functions; every name is checked against the form when the file
is loaded, so a typo is reported with its file and line instead of failing mid-survey.

Unanswered (or skipped, or irrelevant) values are None. A comparison involving None is false,
arithmetic with None gives None, so a rule about a question that was never asked never fires.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MEMBER_AGGREGATES = {"any_member", "all_members", "count_members", "sum_members"}
PLAIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "answered": lambda x: x is not None,
    "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
    "min": lambda *xs: None if any(x is None for x in xs) else min(xs),
    "max": lambda *xs: None if any(x is None for x in xs) else max(xs),
    "round": lambda x, n=0: None if x is None else round(x, n),
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Compare, ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Call,
    ast.IfExp, *_BINOPS, *_CMPOPS,
)


class ExprError(ValueError):
    """An expression is not valid; the loader adds file and line."""


@dataclass(frozen=True)
class Scope:
    """Values visible to an expression: household values, and the member list for aggregates."""

    values: Mapping[str, Any]
    members: Sequence[Mapping[str, Any]] = ()
    parent: Scope | None = None

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return None

    def household(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


@dataclass(frozen=True)
class Expr:
    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, scope: Scope) -> Any:
        return _eval(self.tree.body, scope)

    def truthy(self, scope: Scope) -> bool:
        return bool(self.evaluate(scope))


def compile_expr(
    source: str | int | float | bool,
    household_names: Iterable[str],
    member_names: Iterable[str] = (),
    *,
    in_member: bool = False,
) -> Expr:
    """Parse and check an expression. Member names are valid only inside member aggregates
    (or everywhere when the expression itself belongs to a roster question)."""
    text = str(source) if not isinstance(source, str) else source
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"cannot parse expression {text!r}: {exc.msg}") from exc
    hh = set(household_names)
    mem = set(member_names)
    used: set[str] = set()
    _check(tree.body, hh, mem, in_member, used)
    return Expr(text, tree, frozenset(used))


def _check(node: ast.AST, hh: set[str], mem: set[str], in_member: bool, used: set[str]) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ExprError(f"'{ast.unparse(node)}' is not allowed in expressions")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExprError(f"only plain function calls are allowed: {ast.unparse(node)}")
        fname = node.func.id
        if node.keywords:
            raise ExprError(f"keyword arguments are not allowed: {ast.unparse(node)}")
        if fname in MEMBER_AGGREGATES:
            if len(node.args) != 1:
                raise ExprError(f"{fname}() takes exactly one condition")
            _check(node.args[0], hh, mem, True, used)
            return
        if fname not in PLAIN_FUNCTIONS:
            allowed = ", ".join(sorted([*MEMBER_AGGREGATES, *PLAIN_FUNCTIONS]))
            raise ExprError(f"unknown function '{fname}'; allowed: {allowed}")
        for arg in node.args:
            _check(arg, hh, mem, in_member, used)
        return
    if isinstance(node, ast.Name):
        if node.id in hh or (in_member and node.id in mem) or node.id in ("True", "False", "None"):
            used.add(node.id)
            return
        if node.id in mem:
            raise ExprError(f"'{node.id}' is a member question: use it inside any_member(...) or count_members(...)")
        raise ExprError(f"unknown name '{node.id}'")
    for child in ast.iter_child_nodes(node):
        _check(child, hh, mem, in_member, used)


def _eval(node: ast.AST, scope: Scope) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return scope.lookup(node.id)
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_eval(e, scope) for e in node.elts)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, scope)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, scope)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, scope)
        if isinstance(node.op, ast.Not):
            return not operand
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, scope), _eval(node.right, scope)
        if left is None or right is None:
            return None
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            return None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, scope)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, scope)
            if left is None or right is None:
                return False
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError:
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, scope) if _eval(node.test, scope) else _eval(node.orelse, scope)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        fname = node.func.id
        if fname in MEMBER_AGGREGATES:
            return _aggregate(fname, node.args[0], scope.household())
        return PLAIN_FUNCTIONS[fname](*(_eval(a, scope) for a in node.args))
    raise ExprError(f"cannot evaluate {ast.unparse(node)}")  # pragma: no cover - _check forbids it


def _aggregate(fname: str, cond: ast.AST, household: Scope) -> Any:
    values = [_eval(cond, Scope(m, parent=household)) for m in household.members]
    if fname == "any_member":
        return any(values)
    if fname == "all_members":
        return all(values)
    if fname == "count_members":
        return sum(1 for v in values if v)
    return sum(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))
