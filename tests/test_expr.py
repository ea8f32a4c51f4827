import pytest

from core.expr import ExprError, Scope, compile_expr


def ev(src: str, values: dict, members: list | None = None, member_names: tuple = ()):  # type: ignore[no-untyped-def]
    expr = compile_expr(src, values.keys(), member_names)
    return expr.evaluate(Scope(values, members or []))


def test_comparisons_with_unanswered_values_are_false() -> None:
    assert ev("x > 3", {"x": None}) is False
    assert ev("x in ('a', 'b')", {"x": None}) is False
    assert ev("x == False", {"x": None}) is False
    assert ev("x + 1", {"x": None}) is None


def test_member_aggregates_see_household_values() -> None:
    members = [{"age": 40}, {"age": 10}, {"age": 5}]
    assert ev("count_members(age < limit)", {"limit": 16}, members, ("age",)) == 2
    assert ev("any_member(age > 30)", {}, members, ("age",)) is True
    assert ev("all_members(age > 30)", {}, members, ("age",)) is False
    assert ev("sum_members(age)", {}, members, ("age",)) == 55


def test_division_by_zero_reads_as_unknown() -> None:
    assert ev("a / b", {"a": 1, "b": 0}) is None


@pytest.mark.parametrize(
    "src, message",
    [
        ("__import__('os')", "unknown function"),
        ("x.attr", "not allowed"),
        ("y > 1", "unknown name 'y'"),
        ("age > 1", "member question"),
        ("x >", "cannot parse"),
        ("[i for i in x]", "not allowed"),
        ("any_member(age, age)", "exactly one"),
    ],
)
def test_unsafe_or_unknown_expressions_are_refused(src: str, message: str) -> None:
    with pytest.raises(ExprError, match=message):
        compile_expr(src, {"x"}, {"age"})
