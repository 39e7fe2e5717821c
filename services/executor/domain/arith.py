"""Arithmetic for the `calculator` tool: parsed with `ast` and walked by hand, never `eval`.

Only numbers, + - * / // % ** and parentheses; sizes are capped so `9**9**9` cannot eat the executor.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_EXPRESSION = 500
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 10**100

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class ArithmeticError_(ValueError):
    """The expression is not plain arithmetic, or its result is out of range."""


def _check(value: float) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ArithmeticError_("the result is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise ArithmeticError_("the result is too large")
    return value


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return _check(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            if abs(right) > MAX_EXPONENT:
                raise ArithmeticError_(f"exponents above {MAX_EXPONENT} are not allowed")
            # Refuse before computing: a huge integer power is slow to build, not just to print.
            if abs(left) > 1 and right > 0 and right * math.log10(abs(left)) > math.log10(MAX_MAGNITUDE):
                raise ArithmeticError_("the result is too large")
        try:
            return _check(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ArithmeticError_("division by zero") from None
        except OverflowError:
            raise ArithmeticError_("the result is too large") from None
    raise ArithmeticError_("only numbers, + - * / // % ** and parentheses are allowed")


def evaluate(expression: str) -> int | float:
    text = expression.strip().replace("^", "**").replace("\u00d7", "*").replace("\u00f7", "/")  # x and divide signs
    if not text:
        raise ArithmeticError_("the expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise ArithmeticError_(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ArithmeticError_(f"'{expression}' is not an arithmetic expression") from None
    result = _eval(tree)
    if isinstance(result, float) and result.is_integer() and abs(result) < 2**53:
        return int(result)
    return result
