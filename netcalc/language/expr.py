"""A small, safe evaluator for block-parameter expressions such as `width * 4` or `(out - 1) // 2`.

Whole numbers, names, `+ - * // %`, unary minus and parentheses; nothing else, and no `eval`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*%()/]))")
EXPRESSION_CHARS = re.compile(r"[\w\s+\-*/%()]+")
MAX_DIGITS = 30  # no real network needs a number this long; stops runaway products


class ExprError(ValueError):
    """The expression is malformed or names something unknown; the message says which."""

    @property
    def message(self) -> str:  # the same attribute a NetcalcError has, so callers need not tell them apart
        return str(self)


def tokenize(text: str) -> list[str | int]:
    tokens: list[str | int] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprError(f"unexpected character {text[pos:].strip()[0]!r} in expression {text!r}")
        number, name, op = match.groups()
        if op == "/":
            raise ExprError(f"'/' is not allowed in expression {text!r}; use '//' for whole-number division")
        tokens.append(int(number) if number is not None else (name or op))
        pos = match.end()
    return tokens


def names_in(text: str) -> set[str]:
    """The identifiers an expression mentions (empty when it is not an expression at all)."""
    try:
        return {t for t in tokenize(text) if isinstance(t, str) and t.isidentifier()}
    except ExprError:
        return set()


def substitute(value: Any, params: Mapping[str, Any]) -> Any:
    """An attribute value with parameter names replaced and expressions evaluated; lists element by element.

    A lone word that names no parameter stays a literal ('same', 'relu'); anything that looks like arithmetic
    is evaluated, and a malformed one is an ExprError rather than a silent literal.
    """
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if not isinstance(value, str):
        return value
    if value in params:
        return params[value]
    try:
        tokens = tokenize(value)
    except ExprError:
        if EXPRESSION_CHARS.fullmatch(value):
            raise  # looks like arithmetic, only malformed (e.g. `/`): say why
        return value  # not an expression at all: a literal such as a name
    if len(tokens) == 1 and isinstance(tokens[0], str):
        return value  # a lone word that is not a parameter: a literal such as 'same' or 'relu'
    return evaluate(value, params)


def evaluate(text: str, names: Mapping[str, object]) -> int:
    """The integer value of `text` with `names` bound; ExprError says what is wrong."""
    tokens = tokenize(text)
    if not tokens:
        raise ExprError("empty expression")
    parser = _Parser(tokens, names, text)
    value = parser.expr()
    if parser.pos != len(tokens):
        raise ExprError(f"unexpected {tokens[parser.pos]!r} in expression {text!r}")
    return value


class _Parser:
    """Recursive descent: expr := term (('+'|'-') term)*; term := unary (('*'|'//'|'%') unary)*."""

    def __init__(self, tokens: list[str | int], names: Mapping[str, object], text: str) -> None:
        self.tokens, self.names, self.text, self.pos = tokens, names, text, 0

    def peek(self) -> str | int | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | int:
        token = self.peek()
        if token is None:
            raise ExprError(f"expression {self.text!r} ends too early")
        self.pos += 1
        return token

    def expr(self) -> int:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            value = value + right if op == "+" else value - right
            self.check_size(value)
        return value

    def term(self) -> int:
        value = self.unary()
        while self.peek() in ("*", "//", "%"):
            op = self.take()
            right = self.unary()
            if op == "*":
                value *= right
            elif right == 0:
                raise ExprError(f"division by zero in expression {self.text!r}")
            else:
                value = value // right if op == "//" else value % right
            self.check_size(value)
        return value

    def unary(self) -> int:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.atom()

    def atom(self) -> int:
        token = self.take()
        if isinstance(token, int):
            return token
        if token == "(":
            value = self.expr()
            if self.take() != ")":
                raise ExprError(f"missing ')' in expression {self.text!r}")
            return value
        if isinstance(token, str) and token.isidentifier():
            if token not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise ExprError(f"unknown name '{token}' in expression {self.text!r} (parameters: {known})")
            value = self.names[token]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ExprError(f"parameter '{token}' is {value!r}, not a whole number, in {self.text!r}")
            return value
        raise ExprError(f"unexpected {token!r} in expression {self.text!r}")

    def check_size(self, value: int) -> None:
        if len(str(abs(value))) > MAX_DIGITS:
            raise ExprError(f"expression {self.text!r} gives an absurdly large number")
