"""The expression language of the declaration: which names and functions an expression uses, and that it is allowed.

Kept apart from the code generator so that the mechanisms can order their algebraics by what each uses while
the declaration is assembled (the generator itself reads the assembled declaration).
"""

from __future__ import annotations

import ast

__all__ = ["FUNCTIONS", "expression_names"]

FUNCTIONS = ("exp", "ln", "sqrt", "pow", "max", "min", "above")

_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd,
)


def expression_names(expr: str) -> tuple[set[str], set[str]]:
    """Return (variable names, function names) used by an expression, checking its syntax."""
    tree = ast.parse(expr, mode="eval")
    names: set[str] = set()
    funcs: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise SyntaxError(f"construct {type(node).__name__} not allowed in model expression {expr!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise SyntaxError(f"unknown function in {expr!r}; allowed: {', '.join(FUNCTIONS)}")
            funcs.add(node.func.id)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise SyntaxError(f"non-numeric constant in {expr!r}")
    return names - funcs, funcs
