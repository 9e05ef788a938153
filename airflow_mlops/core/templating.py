"""Template text from a model config: checked against an allow-list, rendered by it.

A config author may use the run's dates and a few string filters, nothing else: no attribute
or item access, no calls, no imports, includes or macros, no ``{% set %}`` of anything but a
literal. The check walks Jinja's parse tree (never a regex); rendering re-checks the text and
uses an environment that refuses attribute access and calls, so text that reaches an operator
any other way is held to the same rules. Rendered output is never rendered again.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2 import nodes
from jinja2.filters import FILTERS as JINJA_FILTERS

from airflow_mlops.core.errors import ConfigError

VARIABLES = ("ds", "ds_nodash", "data_interval_start", "data_interval_end", "dag_id", "task_id")
TESTS = ("defined", "undefined", "none", "string", "number")
MAX_TEMPLATE_CHARS = 65_536  # one field's text: bounds what parsing it costs
MAX_RENDERED_CHARS = 1_000_000  # no chain of filters may grow a field beyond this


def _date(fmt: str):
    def format_date(value: dt.date | None) -> str | None:
        return None if value is None else value.strftime(fmt)
    return format_date


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    result = JINJA_FILTERS["replace"](jinja2.nodes.EvalContext(_environment()), value, old, new,
                                     count)
    if len(result) > MAX_RENDERED_CHARS:
        raise ConfigError(f"a replace filter grew the text beyond {MAX_RENDERED_CHARS} characters")
    return result


FILTERS = {
    "replace": _replace,
    "lower": JINJA_FILTERS["lower"],
    "upper": JINJA_FILTERS["upper"],
    "trim": JINJA_FILTERS["trim"],
    "default": JINJA_FILTERS["default"],
    "string": JINJA_FILTERS["string"],
    "ds": _date("%Y-%m-%d"),
    "ds_nodash": _date("%Y%m%d"),
    "ts": lambda value: None if value is None else value.isoformat(),
    "ts_nodash": _date("%Y%m%dT%H%M%S"),
}

# Nodes a config template may hold; Name, Filter, Test and Assign are checked further.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Concat, nodes.If,
    nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand, nodes.Keyword,
    nodes.Name, nodes.Filter, nodes.Test, nodes.Assign,
)
_DESCRIBED = {
    nodes.Getattr: "attribute access", nodes.Getitem: "item access", nodes.Call: "a call",
    nodes.Import: "{% import %}", nodes.FromImport: "{% from ... import %}",
    nodes.Include: "{% include %}", nodes.Extends: "{% extends %}", nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}", nodes.For: "{% for %}", nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}", nodes.AssignBlock: "{% set %}...{% endset %}",
    nodes.Block: "{% block %}", nodes.BinExpr: "arithmetic", nodes.UnaryExpr: "arithmetic",
    nodes.List: "a list", nodes.Tuple: "a tuple", nodes.Dict: "a dict", nodes.Slice: "a slice",
}


class ConfigTemplateEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """Renders config text: the allowed filters only, no globals, no attributes, no calls."""

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, cache_size=0)
        self.filters = dict(FILTERS)
        self.tests = {name: self.tests[name] for name in TESTS}
        self.globals = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False


@functools.cache
def _environment() -> ConfigTemplateEnvironment:
    return ConfigTemplateEnvironment()


def _node_problem(node: nodes.Node, assigned: set[str]) -> str | None:
    where = f" (template line {node.lineno})"
    if not isinstance(node, _ALLOWED_NODES):
        what = next((text for kind, text in _DESCRIBED.items() if isinstance(node, kind)),
                    f"'{type(node).__name__}'")
        if isinstance(node, nodes.Getattr):
            what += f" ('.{node.attr}')"
        return f"{what} is not allowed in a config{where}"
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in (
        *VARIABLES, *assigned
    ):
        return (f"unknown variable '{node.name}'{where}; a config may use "
                f"{', '.join(VARIABLES)}")
    if isinstance(node, nodes.Filter | nodes.Test):
        kind, known = ("filter", FILTERS) if isinstance(node, nodes.Filter) else ("test", TESTS)
        if node.name not in known:
            return (f"unknown {kind} '{node.name}'{where}; a config may use "
                    f"{', '.join(known)}")
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return f"*args or **kwargs in {kind} '{node.name}' are not allowed{where}"
    if isinstance(node, nodes.Assign) and not (
        isinstance(node.target, nodes.Name) and isinstance(node.node, nodes.Const)
    ):
        return f"{{% set %}} may only assign a literal to a name{where}"
    return None


@functools.lru_cache(maxsize=4096)
def template_problem(text: str) -> str | None:
    """Why ``text`` may not be a config template, or None when it may (cached per text)."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return f"longer than {MAX_TEMPLATE_CHARS} characters"
    if "{" not in text:
        return None
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"not a valid template (template line {exc.lineno}): {exc.message}"
    except RecursionError:
        return "the template is nested too deeply"
    assigned = {node.target.name for node in tree.find_all(nodes.Assign)
                if isinstance(node.target, nodes.Name)}
    pending = [tree]
    while pending:
        node = pending.pop()
        problem = _node_problem(node, assigned)
        if problem:
            return problem
        pending.extend(node.iter_child_nodes())
    return None


def render_config_template(text: str, variables: Mapping[str, Any]) -> str:
    """``text`` rendered once with the allowed ``variables``; a ConfigError if it breaks a rule."""
    problem = template_problem(text)
    if problem:
        raise ConfigError(problem)
    if "{" not in text:
        return text
    allowed = {name: value for name, value in variables.items() if name in VARIABLES}
    try:
        return _environment().from_string(text).render(allowed)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template cannot be rendered: {exc}") from None
