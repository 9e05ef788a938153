"""Validation reports: GX's full result as JSON plus a self-contained HTML page, and storing both.

The HTML is rendered here from the result JSON (no GX Data Docs site, no external CSS or
scripts), so a report opens anywhere it is stored: a results folder, object storage or an
MLflow run's artifacts.

Every page treats data values and column names as text: they are HTML-escaped, and each
page carries a Content-Security-Policy (:func:`policy_meta`) under which no script runs
(:data:`NO_SCRIPT`), or, for Evidently's drift report, only Evidently's own inline scripts,
allowed by their SHA-256 (:func:`safe_evidently_html`). A policy in a ``<meta>`` element
cannot ``sandbox`` the page (browsers ignore that directive there), so hashes it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from html import escape
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.io import StoragePath, as_path
from airflow_mlops.core.paths import resolve_under

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from airflow_mlops.core.validation import ValidationSummary

NO_SCRIPT = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
             "base-uri 'none'; form-action 'none'")
# Evidently 0.7 embeds the report's data as two JSON literals in one <script>, one per line:
# json.dumps writes no raw newline, so each line holds one whole literal.
EVIDENTLY_DATA = re.compile(
    r"<script>\n    var (metric_\w+) = (.*);\n    var additional_graphs_\1 = (.*);\n</script>")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
RESULT_FILE = "validation_result.json"
REPORT_FILE = "validation_report.html"
RULE_HIDDEN = {"batch_id", "column", "column_A", "column_B"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:.9em;word-break:break-all}
.pass{color:#17692b;font-weight:600} .fail{color:#b3261e;font-weight:600}
dl{display:grid;grid-template-columns:max-content auto;gap:.25rem 1rem}
dt{font-weight:600}
"""


def policy_meta(policy: str) -> str:
    """A ``<meta>`` element setting the page's Content-Security-Policy; first in ``<head>``."""
    return f'<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">'


def script_safe_json(text: str) -> str:
    """JSON text that can stand inside a ``<script>`` element: ``<``, ``>`` and ``&`` as
    ``\\u`` escapes, so no ``</script>`` or ``<!--`` in a value ends or bends the element.

    Outside strings JSON holds none of these characters, so the text stays the same JSON
    (and the same JavaScript literal).
    """
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def safe_evidently_html(html: str) -> str:
    """Evidently's standalone report, made unable to run script from the data it shows.

    Its embedded data is re-escaped with :func:`script_safe_json`, and a policy allows only
    the page's own inline scripts (by hash): a script or event handler that a value still
    slipped in would not run. Evidently's fonts and charts use data and blob URLs and
    inline styles, which stay allowed.

    :raises ValueError: the page is not shaped as Evidently 0.7 writes it.
    """
    matches = list(EVIDENTLY_DATA.finditer(html))
    if len(matches) != 1:
        raise ValueError("Evidently's report is not shaped as expected (one data script)")
    match = matches[0]
    name, info, graphs = match.groups()
    data = (f"<script>\n    var {name} = {script_safe_json(info)};\n"
            f"    var additional_graphs_{name} = {script_safe_json(graphs)};\n</script>")
    page = html[:match.start()] + data + html[match.end():]
    if page.count("<head>") != 1:
        raise ValueError("Evidently's report is not shaped as expected (one <head>)")
    scripts = " ".join(dict.fromkeys(_script_hash(s) for s in INLINE_SCRIPT.findall(page)))
    policy = (f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
              "font-src data:; img-src data: blob:; base-uri 'none'; form-action 'none'")
    return page.replace("<head>", f"<head>\n{policy_meta(policy)}", 1)


def _cell(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return f"<code>{escape(text)}</code>"


def _status(success: bool) -> str:
    return '<span class="pass">passed</span>' if success else '<span class="fail">FAILED</span>'


def _facts(summary: ValidationSummary) -> str:
    facts = {"Data": summary.data, "Suite": summary.suite, "Rows": summary.rows,
             "Expectations": f"{summary.evaluated} evaluated, {summary.failed} failed"}
    if summary.error:
        facts["Error"] = summary.error
    if summary.quarantined_to:
        facts["Quarantined copy"] = summary.quarantined_to
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts.items())
    return f"<dl>{items}</dl>"


def _failures_table(summary: ValidationSummary) -> str:
    if not summary.failures:
        return ""
    rows = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in (
            escape(f.column or "(table)"), escape(f.expectation), escape(f.reason),
            _cell(f.observed_value), _cell(f.unexpected_percent), _cell(f.examples),
        )) + "</tr>"
        for f in summary.failures
    )
    head = ("<tr><th>Column</th><th>Expectation</th><th>What is wrong</th><th>Observed</th>"
            "<th>Unexpected %</th><th>Examples</th></tr>")
    return f"<h2>Failed expectations</h2><table>{head}{rows}</table>"


def _results_table(result: dict) -> str:
    rows = []
    for item in result.get("results", []):
        config = item["expectation_config"]
        kwargs = config.get("kwargs", {})
        column = kwargs.get("column") or ", ".join(
            str(kwargs[k]) for k in ("column_A", "column_B") if k in kwargs)
        rule = {k: v for k, v in kwargs.items() if k not in RULE_HIDDEN}
        details = item.get("result") or {}
        observed = details.get("observed_value", details.get("unexpected_count"))
        cells = (_status(item["success"]), escape(config["type"]), escape(str(column or "")),
                 _cell(rule), _cell(observed))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = ("<tr><th>Status</th><th>Expectation</th><th>Column</th><th>Rule</th>"
            "<th>Observed / unexpected count</th></tr>")
    return f"<h2>All expectations</h2><table>{head}{''.join(rows)}</table>"


def render_html(summary: ValidationSummary, result: dict) -> str:
    """A self-contained HTML page for one validation run."""
    title = f"Validation of {summary.data}"
    return (
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{policy_meta(NO_SCRIPT)}"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}: {_status(summary.success)}</h1>"
        f"<p>{escape(summary.headline())}.</p>{_facts(summary)}"
        f"{_failures_table(summary)}{_results_table(result)}</body></html>"
    )


def report_files(summary: ValidationSummary, result: dict) -> dict[str, str]:
    """File name to content: the full JSON result and the HTML report."""
    return {
        RESULT_FILE: json.dumps({**result, "summary": summary.to_dict()}, indent=2),
        REPORT_FILE: render_html(summary, result),
    }


def write_files(
    folder: str | os.PathLike[str] | StoragePath, files: dict[str, str], report: str
) -> str:
    """Write ``files`` (name to text) into ``folder`` (local or object storage), replacing
    earlier ones.

    :return: the location of ``report``, one of the files.
    :raises PathEscapeError: a file in ``folder`` is a link that leads out of it.
    """
    folder = as_path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        with resolve_under(folder, name, what="report file").open("w", encoding="utf-8") as handle:
            handle.write(text)
    return str(folder / report)


def write_reports(
    folder: str | os.PathLike[str] | StoragePath, summary: ValidationSummary, result: dict
) -> str:
    """Write both files into ``folder`` (:func:`write_files`); the HTML report's location."""
    return write_files(folder, report_files(summary, result), REPORT_FILE)


def log_reports_to_mlflow(
    client: MlflowClient, run_id: str, summary: ValidationSummary, result: dict,
    *, artifact_path: str,
) -> str:
    """Log both files as artifacts of MLflow run ``run_id`` under ``artifact_path``.

    :return: a link to the HTML report: the MLflow UI's page for it when the tracking
        server speaks HTTP, else the artifact's URI.
    """
    for name, text in report_files(summary, result).items():
        client.log_text(run_id, text, f"{artifact_path}/{name}")
    run = client.get_run(run_id)
    return mlflow_artifact_link(client.tracking_uri, run.info.experiment_id, run_id,
                                run.info.artifact_uri, f"{artifact_path}/{REPORT_FILE}")


def mlflow_artifact_link(tracking_uri: str, experiment_id: str, run_id: str,
                         artifact_uri: str, path: str) -> str:
    """The MLflow UI page of a run's artifact for an HTTP tracking server, else its URI."""
    if tracking_uri.startswith(("http://", "https://")):
        return (f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}"
                f"/runs/{run_id}/artifactPath/{path}")
    return f"{artifact_uri.rstrip('/')}/{path}"
