"""A small, safe evaluator for attribute expressions such as `width * 4`, `(out - 1) // 2` or torchvision's
channel rounding `max(8, int(v + 4) // 8 * 8) + (8 if max(8, int(v + 4) // 8 * 8) < 0.9 * v else 0)`.

Numbers (`64`, `0.75`, `1e-5`), names, `+ - * / // %`, unary `-`/`+`, comparisons `< <= > >= == !=` (chained as
in Python), `and`, `or`, `not`, the conditional `a if cond else b`, the functions `min max floor ceil round int
abs`, and parentheses; nothing else, and no `eval`. Every operator means what it means in Python (`/` is true
division, `//` floors, `round` rounds half to even). Text is parsed once into a small tree (cached by text), then
evaluated; `and`, `or` and the conditional evaluate only the side they need.

Bounds, each a one-line ExprError: at most MAX_LENGTH characters, MAX_DEPTH levels of nesting, number literals of
at most MAX_DIGITS digits, and no value beyond ±10^MAX_DIGITS (so no NaN or infinity can come out either).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

MAX_DIGITS = 30  # no real network needs a number this long; stops runaway products
MAX_LENGTH = 2_000  # characters in one expression
MAX_DEPTH = 32  # nesting of parentheses, calls, conditionals, unary operators
LIMIT = 10**MAX_DIGITS
REPEAT_NAMES = ("index", "repeats")  # bound inside a repeated item: the copy number from 0, and the count

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>//|<=|>=|==|!=|[-+*/%()<>,])"
    r")"
)
# Text made only of these characters is meant as arithmetic: a malformed one is an error, not a literal.
EXPRESSION_CHARS = re.compile(r"[\w\s+\-*/%()<>=!,]+")
WORD = re.compile(r"[A-Za-z_]\w*(?:\.\w+)*")  # a name or a dotted layer path: a literal unless it is a name bound
KEYWORDS = frozenset({"and", "or", "not", "if", "else"})
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _round(x: float, digits: int | None = None) -> float:
    if digits is None:
        return round(x)
    # every value is within ±10^MAX_DIGITS, so rounding to 10^(MAX_DIGITS + 1) or coarser gives 0 whatever the
    # digits; Python's own round(int, -n) computes 10^n first, which for n = 10^8 runs for minutes
    return round(x, max(int(digits), -(MAX_DIGITS + 1)))


# name -> (function, fewest arguments, most arguments or None)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "min": (min, 2, None),
    "max": (max, 2, None),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "round": (_round, 1, 2),
    "int": (int, 1, 1),
    "abs": (abs, 1, 1),
}

Number = int | float | bool
Node = tuple[Any, ...]


class ExprError(ValueError):
    """The expression is malformed or names something unknown; the message says which."""

    @property
    def message(self) -> str:  # the same attribute a NetcalcError has, so callers need not tell them apart
        return str(self)


def quote(text: str, limit: int = 60) -> str:
    """`text` quoted for a message, cut to `limit` characters: a message quotes a short excerpt, never a file."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[tuple[str, Any], ...]:
    """(type, value) pairs: ('num', 64), ('name', 'width'), ('op', '//'); cached, as a block's values recur."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression {quote(text)} is {len(text):,} characters long; at most {MAX_LENGTH:,} allowed")
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExprError(f"unexpected character {text[pos:].strip()[0]!r} in expression {quote(text)}")
        kind = match.lastgroup or "op"
        value: Any = match.group(kind)
        if kind == "num":
            value = _number(value, text)
        tokens.append((kind, value))
        pos = match.end()
    return tuple(tokens)


def _number(literal: str, text: str) -> int | float:
    digits = len(re.sub(r"[eE].*", "", literal).replace(".", "").lstrip("0"))
    if digits > MAX_DIGITS:
        raise ExprError(f"the number {quote(literal, 20)} in {quote(text)} has more than {MAX_DIGITS} digits")
    if re.fullmatch(r"\d+", literal):
        return int(literal)
    exponent = re.search(r"[eE]([-+]?\d+)", literal)
    if exponent and len(exponent.group(1).lstrip("+-0")) > 4:
        raise ExprError(f"the number {quote(literal, 20)} in expression {quote(text)} is out of range")
    return _checked(float(literal), text)


def _checked(value: Any, text: str) -> Any:
    """`value`, unless it is beyond ±10^MAX_DIGITS (which also rules out NaN and infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"expression {quote(text)} gives {value}, not a finite number")
    if not -LIMIT < value < LIMIT:
        raise ExprError(f"expression {quote(text)} gives an absurdly large number (beyond 10^{MAX_DIGITS})")
    return value


def names_in(text: str) -> set[str]:
    """The names an expression reads (empty when it is not an expression at all)."""
    try:
        tokens = tokenize(text)
    except ExprError:
        return set()
    return {
        value
        for i, (kind, value) in enumerate(tokens)
        if kind == "name"
        and value not in KEYWORDS
        and not (value in FUNCTIONS and i + 1 < len(tokens) and tokens[i + 1] == ("op", "("))
    }


def looks_like_expression(value: str) -> bool:
    """Whether a string is arithmetic rather than a literal word such as 'same', 'relu' or 'stage4.conv3'."""
    if WORD.fullmatch(value):
        return False
    try:
        tokens = tokenize(value)
    except ExprError:
        return bool(EXPRESSION_CHARS.fullmatch(value))
    return not (len(tokens) == 1 and tokens[0][0] == "name")


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
    if not looks_like_expression(value):
        return value
    return evaluate(value, params)


def evaluate(text: str, names: Mapping[str, object]) -> Any:
    """The value (int, float or bool) of `text` with `names` bound; ExprError says what is wrong."""
    return _Evaluator(names, text).run(parse(text))


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """The tree of `text` (cached: a block's expressions are parsed once however often it is used)."""
    tokens = tokenize(text)
    if not tokens:
        raise ExprError("empty expression")
    parser = _Parser(tokens, text)
    try:
        tree = parser.conditional()
    except RecursionError:  # only if the caller is itself deep in the stack; MAX_DEPTH normally stops it first
        raise ExprError(f"expression {quote(text)} nests too deeply") from None
    if parser.pos != len(tokens):
        raise ExprError(f"unexpected {_show(tokens[parser.pos])} in expression {quote(text)}")
    return tree


def _show(token: tuple[str, Any]) -> str:
    return repr(token[1])


class _Parser:
    """Recursive descent with Python's precedence, lowest first:
    conditional := disjunction ['if' disjunction 'else' conditional]
    disjunction := conjunction ('or' conjunction)*;  conjunction := negation ('and' negation)*
    negation := 'not' negation | comparison;  comparison := sum (COMPARISON sum)*
    sum := product (('+'|'-') product)*;  product := unary (('*'|'/'|'//'|'%') unary)*
    unary := ('-'|'+') unary | atom;  atom := number | name | FUNCTION '(' args ')' | '(' conditional ')'
    Chains are kept flat (one node with a list), so a long sum does not make a deep tree.
    """

    def __init__(self, tokens: tuple[tuple[str, Any], ...], text: str) -> None:
        self.tokens, self.text, self.pos, self.depth = tokens, text, 0, 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token[0] in ("op", "name") and token[1] in ops

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise ExprError(f"expression {quote(self.text)} ends too early")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        token = self.peek()
        if token != ("op", op):
            found = "the end" if token is None else _show(token)
            missing = "missing ')'" if op == ")" else f"expected {op!r}"
            raise ExprError(f"{missing} in expression {quote(self.text)} (found {found})")
        self.pos += 1

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression {quote(self.text)} nests more than {MAX_DEPTH} levels deep")

    def conditional(self) -> Node:
        self.nest()
        value = self.disjunction()
        if self.at("if") and self.peek() == ("name", "if"):
            self.take()
            cond = self.disjunction()
            if self.peek() != ("name", "else"):
                raise ExprError(f"'if' without 'else' in expression {quote(self.text)}")
            self.take()
            value = ("if", cond, value, self.conditional())
        self.depth -= 1
        return value

    def _chain(self, tag: str, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest = []
        while self.at(*ops):
            op = self.take()[1]
            rest.append((op, operand()))
        return (tag, first, rest) if rest else first

    def disjunction(self) -> Node:
        return self._chain("or", ("or",), self.conjunction)

    def conjunction(self) -> Node:
        return self._chain("and", ("and",), self.negation)

    def negation(self) -> Node:
        if self.peek() == ("name", "not"):
            self.take()
            self.nest()
            node = ("not", self.negation())
            self.depth -= 1
            return node
        return self._chain("compare", COMPARISONS, self.sum)

    def sum(self) -> Node:
        return self._chain("arith", ("+", "-"), self.product)

    def product(self) -> Node:
        return self._chain("arith", ("*", "/", "//", "%"), self.unary)

    def unary(self) -> Node:
        if self.peek() in (("op", "-"), ("op", "+")):
            op = self.take()[1]
            self.nest()
            node = ("neg" if op == "-" else "pos", self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return ("num", value)
        if (kind, value) == ("op", "("):
            node = self.conditional()
            self.expect(")")
            return node
        if kind == "name" and value in FUNCTIONS and self.peek() == ("op", "("):
            return self.call(value)
        if kind == "name" and value not in KEYWORDS:
            return ("name", value)
        raise ExprError(f"unexpected {value!r} in expression {quote(self.text)}")

    def call(self, function: str) -> Node:
        self.take()  # (
        args = [] if self.peek() == ("op", ")") else [self.conditional()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.conditional())
        self.expect(")")
        _, fewest, most = FUNCTIONS[function]
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = f"{fewest}" if fewest == most else f"{fewest} or more" if most is None else f"{fewest} to {most}"
            raise ExprError(f"{function}() takes {wanted} arguments, got {len(args)}, in {quote(self.text)}")
        return ("call", function, args)


class _Evaluator:
    def __init__(self, names: Mapping[str, object], text: str) -> None:
        self.names, self.text = names, text

    def run(self, node: Node) -> Any:
        tag = node[0]
        if tag == "num":
            return node[1]
        if tag == "name":
            return self.name(node[1])
        if tag == "neg":
            return _checked(-self.run(node[1]), self.text)
        if tag == "pos":
            return self.run(node[1])
        if tag == "not":
            return not self.run(node[1])
        if tag == "if":
            return self.run(node[2]) if self.run(node[1]) else self.run(node[3])
        if tag == "or" or tag == "and":
            value = self.run(node[1])
            for _, operand in node[2]:
                if bool(value) == (tag == "or"):
                    return value
                value = self.run(operand)
            return value
        if tag == "compare":
            left = self.run(node[1])
            for op, operand in node[2]:
                right = self.run(operand)
                if not _COMPARE[op](left, right):
                    return False
                left = right
            return True
        if tag == "arith":
            value = self.run(node[1])
            for op, operand in node[2]:
                value = self.arith(op, value, self.run(operand))
            return value
        function, args = node[1], [self.run(a) for a in node[2]]
        try:
            return _checked(FUNCTIONS[function][0](*args), self.text)
        except (TypeError, ValueError, OverflowError) as error:
            shown = ", ".join(map(repr, args))
            raise ExprError(f"{function}() cannot take {shown} in {quote(self.text)}: {error}") from None

    def name(self, name: str) -> Number:
        if name not in self.names:
            known = ", ".join(sorted(n for n in self.names if isinstance(self.names[n], (int, float)))) or "none"
            hint = " (`index` and `repeats` exist only inside an item with `repeat:`)" if name in REPEAT_NAMES else ""
            raise ExprError(f"unknown name '{name}' in expression {quote(self.text)} (names: {known}){hint}")
        value = self.names[name]
        if not isinstance(value, (int, float)):
            raise ExprError(f"'{name}' is {_describe(value)}, not a number, in expression {quote(self.text)}")
        return value

    def arith(self, op: str, a: Number, b: Number) -> Number:
        if op in ("/", "//", "%") and b == 0:
            raise ExprError(f"division by zero in expression {quote(self.text)}")
        if op == "+":
            value = a + b
        elif op == "-":
            value = a - b
        elif op == "*":
            value = a * b
        elif op == "/":
            value = a / b
        elif op == "//":
            value = a // b
        else:
            value = a % b
        return _checked(value, self.text)


def _describe(value: object) -> str:
    text = repr(value) if isinstance(value, (str, bool, type(None))) else f"a {type(value).__name__}"
    shown = getattr(value, "value", None)  # a Deferred: say what it is waiting for, not its internals
    if shown is not None:
        return f"{quote(str(shown))}, which depends on the input shape,"
    return text
