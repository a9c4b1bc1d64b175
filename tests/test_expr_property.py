"""Random expressions of the language against Python itself, the oracle: the evaluator means what Python means.

Expressions are drawn as text in the shared grammar (numbers, names, + - * / // %, comparisons, and/or/not,
conditionals, the functions); Python's `eval` of the same text (test-only, on text we generated) gives the
expected value or exception. Results beyond the evaluator's bound of 10^30 are allowed to be refused instead.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from netcalc.language.expr import FUNCTIONS, LIMIT, ExprError, evaluate

NAMES = {"a": 7, "b": -3, "c": 2.5, "z": 0}
ATOMS = st.one_of(
    st.integers(0, 50).map(str),
    st.sampled_from(["0.5", "1e-3", "2.5e1", ".25"]),
    st.sampled_from(sorted(NAMES)),
)
BINARY = ["+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "and", "or"]


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(-{c})"),
        children.map(lambda c: f"(not {c})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.tuples(st.sampled_from(["floor", "ceil", "round", "int", "abs"]), children).map(lambda t: f"{t[0]}({t[1]})"),
    )


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=12)
PYTHON = {**{name: fn for name, (fn, _, _) in FUNCTIONS.items()}, "floor": math.floor, "ceil": math.ceil}


@settings(max_examples=400, deadline=None)
@given(EXPRESSIONS)
def test_the_evaluator_agrees_with_python(text):
    try:
        expected = eval(text, {"__builtins__": {}}, {**PYTHON, **NAMES})  # our own generated text, never user input
    except (ZeroDivisionError, OverflowError, ValueError):
        expected = None
    try:
        got = evaluate(text, NAMES)
    except ExprError as error:
        message = str(error)
        bounded = expected is not None and isinstance(expected, (int, float)) and not -LIMIT < expected < LIMIT
        assert expected is None or bounded or "absurdly" in message, (text, expected, message)
        return
    assert expected is not None, (text, got)
    assert got == expected and type(got) is type(expected), (text, got, expected)
