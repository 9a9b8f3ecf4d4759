"""Symbolic partial derivatives of declaration expressions (for the fast engine's Jacobian).

The declaration's infix language is small (``+ - * /``, unary minus, numbers,
names, ``exp ln sqrt pow max min above``), so its derivative rules fit here:
:func:`derivative` returns the partial derivative of an expression with
respect to one name, as an expression string in the same language plus
Python conditional expressions for the piecewise functions (``max``, ``min``,
``above``; numba compiles them). The jumps of ``above`` contribute no
impulse: the derivative is that of the branch in force, as a finite-difference
Jacobian away from the jump would see it.
"""

from __future__ import annotations

import ast
from functools import cache

__all__ = ["derivative"]

_ZERO = "0.0"
_ONE = "1.0"


def _is_const(s: str, value: float) -> bool:
    try:
        return float(s) == value
    except ValueError:
        return False


def _add(a: str, b: str) -> str:
    if _is_const(a, 0.0):
        return b
    if _is_const(b, 0.0):
        return a
    return f"({a} + {b})"


def _sub(a: str, b: str) -> str:
    if _is_const(b, 0.0):
        return a
    if _is_const(a, 0.0):
        return f"(-{b})"
    return f"({a} - {b})"


def _mul(a: str, b: str) -> str:
    if _is_const(a, 0.0) or _is_const(b, 0.0):
        return _ZERO
    if _is_const(a, 1.0):
        return b
    if _is_const(b, 1.0):
        return a
    return f"({a} * {b})"


def _div(a: str, b: str) -> str:
    if _is_const(a, 0.0):
        return _ZERO
    if _is_const(b, 1.0):
        return a
    return f"({a} / {b})"


def _cond(test: str, a: str, b: str) -> str:
    if a == b:
        return a
    return f"({a} if {test} else {b})"


def _d(node: ast.AST, var: str) -> str:
    """Derivative of ``node`` with respect to the name ``var``, as a string."""
    if isinstance(node, ast.Expression):
        return _d(node.body, var)
    if isinstance(node, ast.Constant):
        return _ZERO
    if isinstance(node, ast.Name):
        return _ONE if node.id == var else _ZERO
    if isinstance(node, ast.UnaryOp):
        inner = _d(node.operand, var)
        if isinstance(node.op, ast.UAdd):
            return inner
        return _ZERO if _is_const(inner, 0.0) else f"(-{inner})"
    if isinstance(node, ast.BinOp):
        a, b = ast.unparse(node.left), ast.unparse(node.right)
        da, db = _d(node.left, var), _d(node.right, var)
        if isinstance(node.op, ast.Add):
            return _add(da, db)
        if isinstance(node.op, ast.Sub):
            return _sub(da, db)
        if isinstance(node.op, ast.Mult):
            return _add(_mul(da, f"({b})"), _mul(f"({a})", db))
        if isinstance(node.op, ast.Div):
            return _sub(_div(da, f"({b})"), _div(_mul(f"({a})", db), f"(({b}) * ({b}))"))
        raise SyntaxError(f"operator {type(node.op).__name__} has no derivative rule")
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        args = [ast.unparse(x) for x in node.args]
        ds = [_d(x, var) for x in node.args]
        if name == "exp":
            return _mul(f"exp({args[0]})", ds[0])
        if name == "ln":
            return _div(ds[0], f"({args[0]})")
        if name == "sqrt":
            return _div(ds[0], f"(2.0 * sqrt({args[0]}))")
        if name == "pow":
            base, expo = args
            if _is_const(ds[1], 0.0):
                return _mul(f"({expo}) * pow({base}, ({expo}) - 1.0)", ds[0])
            return _mul(f"pow({base}, {expo})", _add(_mul(ds[1], f"ln({base})"), _div(_mul(f"({expo})", ds[0]), f"({base})")))
        if name == "max":
            return _cond(f"({args[0]}) >= ({args[1]})", ds[0], ds[1])
        if name == "min":
            return _cond(f"({args[0]}) <= ({args[1]})", ds[0], ds[1])
        if name == "above":
            return _cond(f"({args[0]}) >= ({args[1]})", ds[0], _ZERO)
        raise SyntaxError(f"function {name} has no derivative rule")
    raise SyntaxError(f"construct {type(node).__name__} has no derivative rule")


@cache
def derivative(expr: str, var: str) -> str:
    """d(expr)/d(var) as an expression string ('0.0' when ``var`` does not occur)."""
    return _d(ast.parse(expr, mode="eval"), var)
