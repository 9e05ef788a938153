"""The allow-list of config template text: what passes, what is refused and why, rendering."""

from __future__ import annotations

import datetime as dt
import os

import jinja2
import pytest

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.templating import (
    MAX_TEMPLATE_CHARS,
    ConfigTemplateEnvironment,
    render_config_template,
    template_problem,
)

VARIABLES = {"ds": "2026-03-05", "ds_nodash": "20260305", "dag_id": "d", "task_id": "t",
             "data_interval_start": dt.datetime(2026, 3, 5), "data_interval_end": None}


@pytest.mark.parametrize("text, rendered", [
    ("/lake/plain.csv", "/lake/plain.csv"),
    ("/lake/ds={{ ds }}/{{ ds_nodash }}.csv", "/lake/ds=2026-03-05/20260305.csv"),
    ("{{ ds | replace('-', '/') | upper }}", "2026/03/05"),
    ("{{ data_interval_start | ts_nodash }}-{{ data_interval_start | ds }}",
     "20260305T000000-2026-03-05"),
    ("{{ data_interval_end | default('open', true) }}", "open"),
    ("{% set table = 'customers' %}SELECT * FROM {{ table }} WHERE ds = '{{ ds }}'",
     "SELECT * FROM customers WHERE ds = '2026-03-05'"),
    ("{{ dag_id ~ '.' ~ task_id }}{% if ds == '2026-03-05' %}!{% else %}?{% endif %}", "d.t!"),
    ("{{ 'x' if ds is defined and not ds is none else 'y' }}{# a comment #}", "x"),
    ("{% raw %}{{ macros }}{% endraw %}", "{{ macros }}"),
])
def test_allowed_text_renders(text, rendered):
    assert template_problem(text) is None
    assert render_config_template(text, VARIABLES) == rendered


@pytest.mark.parametrize("text, problem", [
    ("{{ macros.uuid.os.system('id') }}", "a call is not allowed"),
    ("{{ ds.upper }}", "attribute access ('.upper') is not allowed"),
    ("{{ ds['x'] }}", "item access is not allowed"),
    ("{{ ds[0:2] }}", "item access is not allowed"),
    ("{% import 'x.j2' as x %}", "{% import %} is not allowed"),
    ("{% from 'x.j2' import y %}", "{% from ... import %} is not allowed"),
    ("{% include 'x.j2' %}", "{% include %} is not allowed"),
    ("{% extends 'x.j2' %}", "{% extends %} is not allowed"),
    ("{% macro m() %}{% endmacro %}", "{% macro %} is not allowed"),
    ("{% for i in [1, 2] %}{% endfor %}", "{% for %} is not allowed"),
    ("{% set x = ds %}", "{% set %} may only assign a literal"),
    ("{% set x %}{{ ds }}{% endset %}", "{% set %}...{% endset %} is not allowed"),
    ("{{ 'a' * 1000000 }}", "arithmetic is not allowed"),
    ("{{ conf }}", "unknown variable 'conf'"),
    ("{{ range }}", "unknown variable 'range'"),
    ("{{ ds | attr('upper') }}", "unknown filter 'attr'"),
    ("{{ ds | format }}", "unknown filter 'format'"),
    ("{{ ds is callable }}", "unknown test 'callable'"),
    ("{{ ds | replace(*x) }}", "*args or **kwargs in filter 'replace'"),
    ("{% do ds %}", "not a valid template"),
    ("{{ ds", "not a valid template (template line 1)"),
    ("{% if ds %}" * 1500 + "{% endif %}" * 1500, "nested too deeply"),
    ("{{ ds }}" * (MAX_TEMPLATE_CHARS // 8 + 1), f"longer than {MAX_TEMPLATE_CHARS}"),
])
def test_refused_text_is_named(text, problem):
    assert problem in template_problem(text)
    with pytest.raises(ConfigError, match="not allowed|unknown|not a valid|nested|longer|may only"):
        render_config_template(text, VARIABLES)


def test_the_line_within_the_template_is_named():
    assert "(template line 3)" in template_problem("SELECT *\nFROM t\nWHERE {{ ti.x }}")


def test_only_documented_variables_reach_the_template():
    with pytest.raises(ConfigError, match="unknown variable 'secret'"):
        render_config_template("{{ secret }}", {**VARIABLES, "secret": "s3cr3t"})


@pytest.mark.parametrize("text", ["{{ f() }}", "{{ s.upper() }}", "{{ s.upper }}",
                                  "{{ s['upper'] }}", "{{ range(3) }}", "{{ lipsum() }}"])
def test_the_environment_itself_refuses_attributes_and_calls(text):
    """Defence in depth: text that skipped the parse-tree check still cannot reach code."""
    with pytest.raises(jinja2.TemplateError):
        ConfigTemplateEnvironment().from_string(text).render(f=os.getcwd, s="text")


def test_a_filter_chain_cannot_grow_a_field_without_bound():
    text = "{{ ds | replace('-', '" + "x" * 5000 + "') | replace('x', '" + "y" * 5000 + "') }}"

    with pytest.raises(ConfigError, match="grew the text beyond"):
        render_config_template(text, VARIABLES)
