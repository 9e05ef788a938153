"""Model cards: one per registered version, in the Hugging Face format, from the registry records.

A card is built with :class:`skops.card.Card` from what MLflow holds about the version: its
tags (data, validation, decision, approval, status), its training run (parameters, metrics),
the evaluation's decision record and the alias ledger. Nothing else is asked, so any step
can (re)write it: evaluation writes it, promotion, rejection, approval and rollback update it.
It is stored on the version's run as ``model_card/README.md`` (YAML front matter + Markdown)
and ``model_card/model_card.html`` (CommonMark rendered with raw HTML disabled, so data
values stay text), tagged on the version and linked from its description.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import ledger, registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.training import LIBRARIES_TAG, TRAINING_SPEC_TAG

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from skops.card import Card

CARD_FOLDER = "model_card"
MARKDOWN_FILE, HTML_FILE = "README.md", "model_card.html"
CARD_TAG = "model_card"
CARD_FACTS_TAG = "card_facts"
DESCRIPTION_PREFIX = "Model card: "
NOT_RECORDED = "not recorded"
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem}}</style>
</head><body>
{body}
</body></html>
"""


def card_facts(*, owner: str | None, purpose: str | None, validation: dict | None,
               data_interval: tuple[str, str] | None) -> dict:
    """What only the DAG run knows, kept on the version for every later rewrite of its card."""
    kept = None
    if validation:
        kept = {key: validation.get(key) for key in
                ("data", "suite", "success", "rows", "evaluated", "failed", "error", "report")}
        kept["failures"] = [{"column": f.get("column"), "expectation": f.get("expectation"),
                             "reason": f.get("reason")} for f in validation.get("failures", [])]
    return {"owner": owner, "purpose": purpose, "validation": kept,
            "data_interval": list(data_interval) if data_interval else None}


def write_card(client: MlflowClient, model: str, version: str,
               facts: dict | None = None) -> str | None:
    """Build the version's card from the registry and store it on its run; its URI.

    ``facts`` (see :func:`card_facts`) are recorded on the version first; later calls
    without them reuse the recorded ones. A version without a run gets no card (None).
    """
    version = str(version)
    if facts is not None:
        registry.set_version_tags(client, model, version, {CARD_FACTS_TAG: facts})
    found = client.get_model_version(model, version)
    if not found.run_id:
        return None
    markdown = render_markdown(build_card(gather(client, model, version)))
    client.log_text(found.run_id, markdown, f"{CARD_FOLDER}/{MARKDOWN_FILE}")
    client.log_text(found.run_id, render_html(markdown, title=f"{model} v{version}"),
                    f"{CARD_FOLDER}/{HTML_FILE}")
    uri = f"runs:/{found.run_id}/{CARD_FOLDER}/{MARKDOWN_FILE}"
    registry.set_version_tags(client, model, version, {CARD_TAG: uri})
    description = _with_card_line(found.description or "", uri)
    if description != found.description:
        client.update_model_version(model, version, description=description)
    return uri


def _with_card_line(description: str, uri: str) -> str:
    """The version's description (what trained it) ending with the card's line, once."""
    kept = description.split(f"\n\n{DESCRIPTION_PREFIX}", 1)[0]
    kept = "" if kept.startswith(DESCRIPTION_PREFIX) else kept
    return f"{kept}\n\n{DESCRIPTION_PREFIX}{uri}" if kept else DESCRIPTION_PREFIX + uri


def refresh_cards(client: MlflowClient, model: str,
                  *versions: str | None) -> dict[str, str | None]:
    """Rewrite the cards of ``versions`` (None skipped), after their status or aliases moved;
    each version's card URI (None for a version without a run)."""
    return {version: write_card(client, model, version)
            for version in dict.fromkeys(str(v) for v in versions if v)}


def page_uri(card_uri: str | None) -> str | None:
    """The HTML page stored next to the card at ``card_uri`` (None for no card)."""
    if not card_uri:
        return None
    return f"{card_uri.rsplit('/', 1)[0]}/{HTML_FILE}"


def read_card(client: MlflowClient, model: str, version: str, *, as_html: bool = False) -> str:
    """The stored card of a version (Markdown, or the HTML page).

    :raises RegistryError: the version has no card yet.
    """
    found = client.get_model_version(model, str(version))
    if not found.run_id or registry.tag(CARD_TAG) not in found.tags:
        raise RegistryError(f"model '{model}' v{version} has no model card yet (one is written "
                            "when the version is evaluated)")
    name = HTML_FILE if as_html else MARKDOWN_FILE
    return _run_text(client, found.run_id, f"{CARD_FOLDER}/{name}")


def gather(client: MlflowClient, model: str, version: str) -> dict:
    """Everything the card says, read from the version, its run, its decision and the ledger."""
    found = client.get_model_version(model, version)
    tags = {key.removeprefix(registry.TAG_PREFIX): value for key, value in found.tags.items()
            if key.startswith(registry.TAG_PREFIX)}
    run = client.get_run(found.run_id)
    run_tags = {key.removeprefix(registry.TAG_PREFIX): value
                for key, value in run.data.tags.items() if key.startswith(registry.TAG_PREFIX)}
    summary = _json(tags.get("decision_record"))
    record = None
    if summary and summary.get("record_uri"):
        path = summary["record_uri"].removeprefix(f"runs:/{found.run_id}/")
        record = json.loads(_run_text(client, found.run_id, path))
    moves = [entry.to_dict() for entry in reversed(ledger.history(client, model))
             if version in (entry.from_version, entry.to_version)]
    return {
        "model": model,
        "version": version,
        "tags": tags,
        "facts": _json(tags.get(CARD_FACTS_TAG)) or {},
        "spec": _json(run_tags.get(TRAINING_SPEC_TAG)),
        "libraries": _json(run_tags.get(LIBRARIES_TAG)),
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "decision": record or summary,
        "aliases": sorted(alias for alias in (found.aliases or [])),
        "moves": moves,
    }


def build_card(found: dict) -> Card:
    """The skops card of the facts :func:`gather` returns."""
    from skops.card import Card

    tags, facts, decision = found["tags"], found["facts"], found["decision"]
    name = f"{found['model']} v{found['version']}"
    card = Card(None, template=None)
    card.add(**{
        "Model description": f"`{name}`, {_estimator(found['spec'])}.",
        "Model description/Owner and purpose":
            f"Owner: {_text(facts.get('owner'))}\n\n"
            f"Purpose: {_text(facts.get('purpose') or 'not given in the model config')}",
    })
    _table(card, **{"Model description/Training data": _rows({
        "URI": tags.get("data_uri"),
        "rows (train)": found["params"].get("rows_train"),
        "rows (held out)": (decision or {}).get("holdout_rows"),
        "fingerprint": tags.get("data_fingerprint"),
        "file digest (SHA-256, 16 hex)": tags.get("data_digest"),
        "data interval": " to ".join(facts["data_interval"]) if facts.get("data_interval")
        else None,
        "produced by": f"{tags.get('dag_id')}/{tags.get('run_id')}" if tags.get("dag_id")
        else None,
    })})
    _add_validation(card, facts.get("validation"))
    _table(card, **{"Model description/Training Procedure/Hyperparameters": _rows(
        {key: value for key, value in sorted(found["params"].items())})})
    if found["libraries"]:
        _table(card, **{"Model description/Training Procedure/Libraries": _rows(
            found["libraries"])})
    _add_evaluation(card, decision, found["metrics"])
    _add_decision(card, tags, decision)
    card.add(**{"Monitoring/Drift baseline":
                "While this version is champion, drift monitoring compares each window with "
                f"its training data: {_code(tags.get('data_uri'))} (fingerprint "
                f"{_code(tags.get('data_fingerprint'))})."})
    _add_history(card, found["aliases"], found["moves"])
    return card


def render_markdown(card: Card) -> str:
    """The card as a Hugging Face model card: YAML metadata, then the Markdown sections."""
    import yaml

    metadata = {"library_name": "sklearn", "tags": ["airflow-mlops", "tabular"]}
    return f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---\n{card.render()}\n"


def render_html(markdown: str, *, title: str) -> str:
    """A standalone HTML page of the Markdown card; raw HTML in it is shown as text."""
    from markdown_it import MarkdownIt

    body = markdown.split("---\n", 2)[2] if markdown.startswith("---\n") else markdown
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    return PAGE.format(title=html.escape(title), body=renderer.render(body))


def _add_validation(card: Card, validation: dict | None) -> None:
    section = "Model description/Data validation"
    if not validation:
        card.add(**{section: NOT_RECORDED})
        return
    outcome = "passed" if validation.get("success") else "failed"
    card.add(**{section: (
        f"Suite {_code(validation.get('suite'))}: {outcome} on {validation.get('rows')} rows "
        f"({validation.get('evaluated')} expectations, {validation.get('failed')} failed). "
        f"Report: {_code(validation.get('report'))}"
    )})
    if validation.get("failures"):
        _table(card, **{f"{section}/Failed expectations": {
            "column": [_cell(f.get("column") or "(table)") for f in validation["failures"]],
            "expectation": [_cell(f.get("expectation")) for f in validation["failures"]],
            "what is wrong": [_cell(f.get("reason")) for f in validation["failures"]],
        }})


def _add_evaluation(card: Card, decision: dict | None, training_metrics: dict) -> None:
    section = "Model description/Evaluation Results"
    if not decision:
        card.add(**{section: "Not evaluated yet. Metrics on the training run's holdout:"})
        _table(card, **{f"{section}/Training holdout": _rows(training_metrics)})
        return
    champion = decision.get("champion_version")
    against = f"champion v{champion}" if champion else "no champion"
    card.add(**{section: (f"On the night's {decision.get('holdout_rows')} held-out rows, "
                          f"against {against}.")})
    challenger_metrics = decision.get("challenger_metrics") or {}
    champion_metrics = decision.get("champion_metrics") or {}
    names = sorted(challenger_metrics)
    if names:
        _table(card, **{f"{section}/Metrics": {
            "metric": names,
            "this version": [_number(challenger_metrics.get(n)) for n in names],
            against: [_number(champion_metrics.get(n)) for n in names],
        }})
    slices = decision.get("slices")
    if slices:
        values = slices["values"]
        _table(card, **{f"{section}/Slices": {
            f"{_cell(slices['column'])}": [_cell(v["value"]) for v in values],
            "rows": [v["rows"] for v in values],
            f"{slices['metric']} (this version)": [_number(v["challenger"]) for v in values],
            f"{slices['metric']} ({against})": [_number(v["champion"]) for v in values],
        }})
    bootstrap = decision.get("bootstrap")
    if bootstrap:
        low, high = bootstrap["interval"]
        card.add(**{f"{section}/Gain interval": (
            f"{bootstrap['confidence']:.0%} bootstrap interval of the gain in "
            f"{decision.get('primary_metric')}: [{_number(low)}, {_number(high)}] "
            f"({bootstrap['resamples']} paired resamples, seed {bootstrap['seed']})."
        )})


def _add_decision(card: Card, tags: dict, decision: dict | None) -> None:
    if not decision:
        card.add(**{"Decision": f"No decision yet. Status: {_text(tags.get('status'))}."})
    else:
        reasons = "\n".join(f"- {_text(reason)}" for reason in decision.get("reasons", []))
        card.add(**{"Decision": (
            f"Verdict: **{decision.get('verdict')}**. Status now: "
            f"{_text(tags.get('status') or 'evaluated')}.\n\nReasons:\n\n{reasons}"
        )})
    outcome = {key: tags.get(key) for key in
               ("rejected_because", "promoted_by", "rolled_back_by", "conflict")}
    if any(outcome.values()):
        _table(card, **{"Decision/Outcome": _rows(outcome)})
    if tags.get("approval"):
        who = tags.get("approved_by") or "nobody (no answer in time; the default applied)"
        card.add(**{"Decision/Approval": (
            f"{_text(tags['approval'])} by {_text(who)} at {_text(tags.get('approved_at'))}."
        )})
    else:
        card.add(**{"Decision/Approval": "No human approval was asked."})


def _add_history(card: Card, aliases: list[str], moves: list[dict]) -> None:
    held = ", ".join(aliases) if aliases else "none"
    card.add(**{"Alias history": f"Aliases when this card was written: {held}."})
    if moves:
        _table(card, **{"Alias history/Moves": {
            "time (UTC)": [m["time"][:19] for m in moves],
            "alias": [m["alias"] for m in moves],
            "from": [m["from_version"] or "-" for m in moves],
            "to": [m["to_version"] for m in moves],
            "action": [m["action"] for m in moves],
            "status": [m["status"].lower() for m in moves],
            "reason": [_cell(m["reason"]) for m in moves],
        }})


def _table(card: Card, **tables: dict[str, list]) -> None:
    """Add tables titled by their last section name (skops titles them by the whole path)."""
    card.add_table(**tables)
    for key in tables:
        card.select(key).title = key.rsplit("/", 1)[-1]


def _estimator(spec: dict | None) -> str:
    if not spec:
        return "estimator not recorded"

    def describe(step: dict) -> str:
        if step.get("steps"):
            return " then ".join(describe(s) for s in step["steps"])
        return f"`{step['class']}`"

    return f"a {spec['task']} model: {describe(spec['estimator'])} on {len(spec['features'])} " \
           f"features predicting `{spec['target']}`"


def _rows(values: dict[str, Any]) -> dict[str, list[str]]:
    return {"field": [_cell(k) for k in values], "value": [_cell(v) for v in values.values()]}


def _cell(value: Any) -> str:
    text = NOT_RECORDED if value is None else str(value)
    return text.replace("\n", " ").replace("|", "\\|")


def _text(value: Any) -> str:
    return NOT_RECORDED if value is None else str(value).replace("\n", " ")


def _code(value: Any) -> str:
    return NOT_RECORDED if value is None else f"`{str(value).replace('`', '')}`"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _run_text(client: MlflowClient, run_id: str, path: str) -> str:
    """A text artifact of a run, through ``client`` (not the process-wide tracking URI)."""
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-card-") as folder:
        return Path(client.download_artifacts(run_id, path, folder)).read_text(encoding="utf-8")


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None
