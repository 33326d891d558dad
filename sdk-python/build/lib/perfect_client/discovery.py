"""Find the tasks a flow calls by reading the flow function's source.

The server needs a flow's task list at registration, before anything runs, to draw the pending
tasks and weigh progress. Reading the source is the only way to know it without executing the
flow: every call expression is resolved against the function's globals, closure and builtins, and
the ones that land on a ``Task`` are listed in evaluation order (arguments before the call that
receives them, so ``load(transform(extract()))`` lists extract, transform, load).
"""
import ast
import builtins
import inspect
import textwrap
from typing import Any, Callable, Dict, List

_MISSING = object()
#: Methods of a task that call it (in the run's task pool).
_SUBMITTING = ("submit", "map")


def _scope(func):
    # type: (Callable[..., Any]) -> Dict[str, Any]
    scope = dict(vars(builtins))
    scope.update(getattr(func, "__globals__", {}) or {})
    code = getattr(func, "__code__", None)
    closure = getattr(func, "__closure__", None) or ()
    if code is not None:
        for name, cell in zip(code.co_freevars, closure):
            try:
                scope[name] = cell.cell_contents
            except ValueError:
                pass  # a closure variable not assigned yet
    return scope


def _resolve(node, scope):
    # type: (ast.AST, Dict[str, Any]) -> Any
    if isinstance(node, ast.Name):
        return scope.get(node.id, _MISSING)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        if base is _MISSING:
            return _MISSING
        try:
            # getattr_static: reading the source must never run properties or __getattr__ hooks.
            return inspect.getattr_static(base, node.attr)
        except AttributeError:
            return _MISSING
    return _MISSING


class _CallCollector(ast.NodeVisitor):
    def __init__(self, scope, is_task):
        # type: (Dict[str, Any], Callable[[Any], bool]) -> None
        self.scope = scope
        self.is_task = is_task
        self.found = []  # type: List[Any]

    def visit_Call(self, node):
        # type: (ast.Call) -> None
        # Callee expression, then arguments, then the call itself: Python's evaluation order.
        self.generic_visit(node)
        target = _resolve(node.func, self.scope)
        if target is not _MISSING and self.is_task(target):
            self.found.append(target)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _SUBMITTING:
            # ``t.submit(...)`` / ``t.map(...)``: the task is listed once, like a plain call
            # (the server adds a task run for each further call as it starts).
            base = _resolve(node.func.value, self.scope)
            if base is not _MISSING and self.is_task(base):
                self.found.append(base)


def _function_node(func):
    # type: (Callable[..., Any]) -> Any
    source = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func.__name__:
            return node
    return None


def discover_tasks(func, is_task):
    # type: (Callable[..., Any], Callable[[Any], bool]) -> List[Any]
    """Return the task objects ``func`` calls, in source (= execution) order.

    Calls inside ``if``/``for``/``try`` blocks are included once each; a task called twice is
    listed twice; ``t.submit(...)`` and ``t.map(...)`` count as one call of ``t``. ``is_task`` decides what counts as a task. When the source cannot be read or
    parsed (interactive sessions, ``exec``), the list is empty: the server then learns the tasks
    as they start.
    """
    try:
        node = _function_node(func)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return []
    if node is None:
        return []
    collector = _CallCollector(_scope(func), is_task)
    # Only the body: decorators and default values run at definition time, not per run.
    for statement in node.body:
        collector.visit(statement)
    return collector.found
