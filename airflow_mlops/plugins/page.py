"""The Models page as HTML: every value is escaped; no script runs on it."""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from airflow_mlops.core.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from airflow_mlops.plugins.nights import Night
from airflow_mlops.plugins.overview import BrokenConfig, ModelView

STYLE = """
:root { color-scheme: light; --line: #e2e8f0; --muted: #64748b; --ink: #1e293b; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; padding: 20px 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
     margin: 18px 0 6px; }
.lead { color: var(--muted); margin: 0 0 18px; }
section.model { border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px;
                margin: 0 0 18px; }
.head { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.badge { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12px;
         background: #f1f5f9; border: 1px solid var(--line); white-space: nowrap; }
.badge.champion { background: #dcfce7; border-color: #86efac; }
.badge.warn { background: #fef9c3; border-color: #fde047; }
.badge.bad { background: #fee2e2; border-color: #fca5a5; }
.badge.good { background: #dcfce7; border-color: #86efac; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: #f8fafc; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.run { font-size: 12px; white-space: nowrap; }
ul.reasons { margin: 0; padding-left: 16px; }
a { color: #0369a1; text-decoration: none; } a:hover { text-decoration: underline; }
.chart img { max-width: min(100%, 760px); border: 1px solid var(--line); border-radius: 6px; }
.muted { color: var(--muted); } .error { color: #b91c1c; white-space: pre-wrap; }
p.read, p.refresh { font-size: 12px; margin: 6px 0 0; }
"""

OUTCOME_BADGES = {"promoted": "good", "rejected": "bad", "blocked": "bad", "awaiting": "warn"}


def _text(value: object) -> str:
    return "" if value is None else escape(str(value))


def _version(value: str | None) -> str:
    return "none" if value is None else f"v{escape(value)}"


def run_url(ui_root: str, dag_id: str, run_id: str) -> str:
    """The DAG run's page in the Airflow UI."""
    return f"{ui_root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _metric(night: Night) -> str:
    decision = night.decision
    if not decision:
        return '<span class="muted">-</span>'
    metric = decision.get("primary_metric", "")
    challenger = (decision.get("challenger_metrics") or {}).get(metric)
    champion = (decision.get("champion_metrics") or {}).get(metric)
    shown = "-" if challenger is None else f"{challenger:.3f}"
    against = "no champion" if champion is None else f"{champion:.3f}"
    return f"{_text(metric)} {shown} <span class=\"muted\">vs {against}</span>"


def _outcome(night: Night) -> str:
    outcome = night.outcome
    kind = next((k for word, k in OUTCOME_BADGES.items() if word in outcome), "")
    return f'<span class="badge {kind}">{_text(outcome)}</span>'


def _reasons(night: Night) -> str:
    reasons = (night.decision or {}).get("reasons") or []
    if not reasons:
        return ""
    return '<ul class="reasons">' + "".join(f"<li>{_text(r)}</li>" for r in reasons) + "</ul>"


def _nights(view: ModelView, ui_root: str) -> str:
    if not view.nights:
        return '<p class="muted">No nights have run yet.</p>'
    notes = any(n.note for n in view.nights)
    rows = "".join(
        f"<tr><td class=\"num\">{_text(f'{n.date:%Y-%m-%d}' if n.date else '')}</td>"
        f"<td class=\"run\"><a data-ui "
        f"href=\"{escape(run_url(ui_root, n.dag_id, n.run_id))}\">{_text(n.run_id)}</a></td>"
        f"<td class=\"num\">{_text(n.validation_verdict)}</td>"
        f"<td class=\"num\">{_metric(n)}</td>"
        f"<td>{_outcome(n)}</td><td>{_reasons(n)}</td>"
        f"{f'<td>{_text(n.note)}</td>' if notes else ''}</tr>"
        for n in view.nights
    )
    return ("<table><thead><tr><th>Date</th><th>DAG run</th><th>Validation</th>"
            "<th>Challenger vs champion</th><th>Decision</th><th>Reasons</th>"
            f"{'<th>Note</th>' if notes else ''}</tr></thead><tbody>{rows}</tbody></table>")


def _ledger(view: ModelView, ui_root: str) -> str:
    entries = view.state.ledger
    if not entries:
        return '<p class="muted">No alias moves recorded.</p>'
    rows = "".join(
        f"<tr><td class=\"num\">{e.time:%Y-%m-%d %H:%M}</td><td>{_text(e.alias)}</td>"
        f"<td class=\"num\">{_version(e.from_version)} &rarr; {_version(e.to_version)}</td>"
        f"<td>{_action(e.action)}</td>"
        f"<td>{_text(e.status.lower())}</td>"
        f"<td class=\"run\">{_run_link(ui_root, e.dag_id, e.dag_run_id)}</td>"
        f"<td>{_text(e.reason)}</td></tr>"
        for e in entries
    )
    return ("<table><thead><tr><th>Time (UTC)</th><th>Alias</th><th>Move</th><th>Action</th>"
            "<th>Status</th><th>DAG run</th><th>Reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _action(action: str) -> str:
    return '<span class="badge warn">rollback</span>' if action == "rollback" else _text(action)


def _run_link(ui_root: str, dag_id: str, run_id: str) -> str:
    if not dag_id or not run_id:
        return ""
    return (f'<a data-ui href="{escape(run_url(ui_root, dag_id, run_id))}">'
            f"{_text(run_id)}</a>")


def _drift(view: ModelView) -> str:
    drift = view.state.drift
    if drift is None:
        return '<span class="badge">drift: no window checked</span>'
    kind = {"true": "bad", "false": "good"}.get(drift.drifted, "warn")
    label = {"true": "drifted", "false": "no drift"}.get(drift.drifted, "not checked")
    return (f'<span class="badge {kind}">drift: {label}, window to {_text(drift.window_end)} '
            f"vs v{_text(drift.champion_version)}</span>")


def _approvals(view: ModelView, ui_root: str) -> str:
    if not view.approvals:
        return ""
    items = "".join(
        f'<li><a data-ui href="{escape(run_url(ui_root, a.dag_id, a.run_id))}'
        f'/required_actions">{_text(a.subject)}</a> '
        f'<span class="muted">asked {a.created_at:%Y-%m-%d %H:%M} UTC</span></li>'
        for a in view.approvals
    )
    return f"<h3>Pending approvals</h3><ul>{items}</ul>"


def _chart(view: ModelView, api_root: str) -> str:
    decided = next((n.decision for n in view.nights if n.decision), None)
    if not decided:
        return '<p class="muted">No evaluation yet.</p>'
    query = urlencode({"model": view.config.name, "version": decided["challenger_version"]})
    src = escape(f"{api_root}/chart?{query}")
    return (f'<img loading="lazy" src="{src}" '
            f'alt="comparison chart of v{_text(decided["challenger_version"])}">')


def _card(view: ModelView, api_root: str) -> str:
    champion = view.state.aliases.get(CHAMPION)
    if champion is None or view.state.champion_card is None:
        return ""
    query = urlencode({"model": view.config.name, "version": champion})
    return (f'<a class="badge card" href="{escape(f"{api_root}/model-card?{query}")}" '
            f'target="_blank" rel="noopener">model card v{_text(champion)}</a>')


def _read(view: ModelView) -> str:
    state = view.state
    if state.read_at is None:
        return ""
    read = f"MLflow read {state.read_at:%Y-%m-%d %H:%M:%S} UTC"
    if state.refresh_error:
        return (f'<p class="error refresh">{read}; the latest refresh failed: '
                f"{_text(state.refresh_error)}</p>")
    return f'<p class="muted read">{read}</p>'


def _model(view: ModelView, ui_root: str, api_root: str) -> str:
    state, name = view.state, view.config.name
    badges = [
        f'<span class="badge champion">champion {_version(state.aliases.get(CHAMPION))}</span>',
        _card(view, api_root),
        f'<span class="badge">previous champion '
        f"{_version(state.aliases.get(PREVIOUS_CHAMPION))}</span>",
        f'<span class="badge">challenger {_version(state.aliases.get(CHALLENGER))}</span>',
        _drift(view),
    ]
    if view.approvals:
        badges.append(f'<span class="badge warn">{len(view.approvals)} awaiting approval</span>')
    error = f'<p class="error">{_text(state.error)}</p>' if state.error else ""
    missing = ("" if state.registered or state.error else
               '<p class="muted">Not registered in MLflow yet.</p>')
    dag_link = f'{ui_root}/dags/{quote(view.dag_id, safe="")}'
    return (
        f'<section class="model" id="model-{escape(name)}"><div class="head">'
        f'<h2><a data-ui href="{escape(dag_link)}">{_text(name)}</a></h2>'
        f'{"".join(badges)}</div>{_read(view)}{error}{missing}{_approvals(view, ui_root)}'
        f"<h3>Last nights</h3>{_nights(view, ui_root)}"
        f"<h3>Alias ledger</h3>{_ledger(view, ui_root)}"
        f'<div class="chart"><h3>Latest comparison</h3>{_chart(view, api_root)}</div>'
        "</section>"
    )


def render(views: list[ModelView], broken: list[BrokenConfig], *, ui_root: str,
           api_root: str, script: str) -> str:
    """The whole page. ``ui_root``: the Airflow UI's base path; ``api_root``: this app's
    API; ``script``: the URL of ``static/page.js``, which hands links to the UI's router."""
    body = "".join(_model(view, ui_root, api_root) for view in views)
    if not views:
        body = '<p class="muted">No model configs found, or none of their DAGs is yours to see.</p>'
    if broken:
        body += "<h3>Broken configs</h3>" + "".join(
            f'<p class="error">{_text(b.path.name)}: {_text(b.error)}</p>' for b in broken)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>Models</title><script defer src="{escape(script)}"></script>'
        f"<style>{STYLE}</style></head><body><h1>Models</h1>"
        f'<p class="lead">Each model\'s champion, its last nights and decisions, the alias '
        f'ledger and drift. Approvals wait in <a data-ui href="{escape(ui_root)}'
        f'/required_actions">Required Actions</a>.</p>{body}</body></html>'
    )
