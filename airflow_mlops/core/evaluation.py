"""Champion versus challenger on the same held-out rows, and the decision that follows.

Both versions predict once on the holdout of the interval's data; metrics are then computed
overall, per slice and on seeded bootstrap resamples of the same rows (paired: both models
see each resample), and :func:`airflow_mlops.core.policy.decide` turns the numbers into a
verdict. The full decision record (JSON) and a comparison chart (PNG) go to the challenger's
training run; a small summary goes to the version's tags and is returned.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.config import PromotionPolicy
from airflow_mlops.core.errors import ConfigError, DataError
from airflow_mlops.core.metrics import Predictions, compute, resampled
from airflow_mlops.core.policy import Guardrail, SliceRule, SliceScore, decide, interval, unusable
from airflow_mlops.core.splits import split
from airflow_mlops.core.version_predictions import VersionUnusable, predict_versions

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure
    from mlflow import MlflowClient

    from airflow_mlops.core.metrics import CustomMetric
    from airflow_mlops.core.splits import Split

DECISION_TAG = "decision_record"
RECORD_FOLDER = "evaluation"
# Resampled index cells held in memory at once (resamples x holdout rows).
CHUNK_CELLS = 2_000_000
MISSING_SLICE = "(missing)"


def resolved_policy(policy: dict | PromotionPolicy, task: str, model: str) -> PromotionPolicy:
    """The validated policy; every metric it names must be one ``task`` produces."""
    from pydantic import ValidationError

    try:
        validated = PromotionPolicy.model_validate(policy)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"model '{model}': promotion policy: {problems}") from None
    problems = validated.problems(task)
    if problems:
        raise ConfigError(f"model '{model}': promotion policy: "
                          + "; ".join(f"{field}: {message}" for field, message in problems))
    return validated


def _metric_of(metrics: dict[str, float], metric: str, model: str, version: str) -> float:
    if metric not in metrics:
        raise ConfigError(
            f"model '{model}' v{version} has no '{metric}' on this holdout (it needs "
            f"predict_proba and two classes); available: {', '.join(metrics)}"
        )
    return metrics[metric]


def evaluate_challenger(
    frame: pd.DataFrame,
    *,
    model_name: str,
    challenger_version: str,
    target: str,
    features: list[str] | None,
    task: str,
    holdout_fraction: float,
    seed: int,
    policy: dict | PromotionPolicy,
    lineage: dict[str, str],
) -> dict:
    """Score challenger and current champion on this data's holdout and decide.

    A challenger that cannot be loaded or cannot predict is rejected, never promoted.
    The decision is stored on the challenger's version; evaluating the same version again
    returns that record instead of deciding twice, unless the champion moved since (then
    the old record is stale and the challenger is compared again).
    """
    import mlflow

    policy = resolved_policy(policy, task, model_name)
    client = mlflow.MlflowClient()
    champion_version = registry.alias_version(client, model_name, registry.CHAMPION)
    registered = client.get_model_version(model_name, challenger_version)
    stored = registered.tags.get(registry.tag(DECISION_TAG))
    if stored:
        summary = json.loads(stored)
        if champion_version in (summary["champion_version"], challenger_version):
            return summary

    frame = frame.reset_index(drop=True)  # holdout labels are then row positions
    parts = split(frame, target=target, features=features, holdout_fraction=holdout_fraction,
                  seed=seed, task=task)
    record = {
        "model": model_name,
        "challenger_version": challenger_version,
        "champion_version": champion_version,
        "primary_metric": policy.primary_metric,
        "greater_is_better": policy.direction(policy.primary_metric),
        "holdout_rows": len(parts.holdout_target),
        "evaluated_by": lineage,
        "policy": policy.model_dump(mode="json"),
    }
    versions = [challenger_version, *([champion_version] if champion_version else [])]
    try:
        challenger, *champion = predict_versions(model_name, versions, parts.holdout_features,
                                                 parts.holdout_target, task)
    except VersionUnusable as exc:
        if exc.position:  # the champion: no verdict on the challenger without it
            raise
        reason = f"challenger v{challenger_version} cannot be loaded or cannot predict: {exc}"
        record.update(challenger_metrics={}, champion_metrics=None,
                      **unusable(reason[:1000]).to_dict())
    else:
        record.update(_compare(policy, parts, frame, challenger, champion[0] if champion else None,
                               model_name, challenger_version, champion_version, seed))
    return _store(client, record, registered.run_id)


def _compare(
    policy: PromotionPolicy,
    parts: Split,
    frame: pd.DataFrame,
    challenger: Predictions,
    champion: Predictions | None,
    model: str,
    challenger_version: str,
    champion_version: str | None,
    seed: int,
) -> dict:
    """Metrics, slices and bootstrap of both versions, and the decision on them."""
    import numpy as np

    metric, custom = policy.primary_metric, policy.custom()
    direction = policy.direction(metric)
    challenger_metrics = compute(challenger, custom=custom)
    challenger_value = _metric_of(challenger_metrics, metric, model, challenger_version)
    if champion is None:
        decision = decide(metric, challenger_value, None, greater_is_better=direction,
                          threshold=policy.threshold,
                          require_approval=policy.approval.always)
        return {"challenger_metrics": challenger_metrics, "champion_metrics": None,
                "bootstrap": None, "slices": None, **decision.to_dict()}

    champion_metrics = compute(champion, custom=custom)
    champion_value = _metric_of(champion_metrics, metric, model, champion_version)
    guardrails = [
        Guardrail(name, _metric_of(challenger_metrics, name, model, challenger_version),
                  _metric_of(champion_metrics, name, model, champion_version), allowed,
                  policy.direction(name))
        for name, allowed in policy.guardrails.items()
    ]
    slices = bootstrap = bounds = None
    if policy.slices is not None:
        slices = _slices(policy, frame, parts, challenger, champion, custom)
    if policy.bootstrap is not None:
        spec = policy.bootstrap
        boot_seed = seed if spec.seed is None else spec.seed
        gains = _gain_samples(metric, challenger, champion, custom, direction, spec.resamples,
                              boot_seed)
        bounds = interval(gains, spec.confidence)
        bootstrap = {"resamples": spec.resamples, "confidence": spec.confidence,
                     "seed": boot_seed, "interval": bounds,
                     "defined": int(np.count_nonzero(~np.isnan(gains)))}
    decision = decide(
        metric, challenger_value, champion_value,
        greater_is_better=direction,
        threshold=policy.threshold,
        min_absolute_change=policy.min_absolute_change,
        min_relative_change=policy.min_relative_change,
        gain_interval=bounds,
        confidence=None if policy.bootstrap is None else policy.bootstrap.confidence,
        guardrails=guardrails,
        slices=slices,
        escalate=policy.approval.escalate,
        require_approval=policy.approval.always,
    )
    return {"challenger_metrics": challenger_metrics, "champion_metrics": champion_metrics,
            "bootstrap": bootstrap, "slices": _slices_record(slices), **decision.to_dict()}


def _gain_samples(
    metric: str,
    challenger: Predictions,
    champion: Predictions,
    custom: tuple[CustomMetric, ...],
    greater_is_better: bool,
    resamples: int,
    seed: int,
) -> np.ndarray:
    """The challenger's gain on each of ``resamples`` seeded resamples of the holdout rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = len(challenger)
    chunk = max(1, CHUNK_CELLS // rows)
    gains = []
    for start in range(0, resamples, chunk):
        index = rng.integers(0, rows, size=(min(chunk, resamples - start), rows))
        difference = (resampled(metric, challenger, index, custom)
                      - resampled(metric, champion, index, custom))
        gains.append(difference if greater_is_better else -difference)
    return np.concatenate(gains)


def _slices(
    policy: PromotionPolicy,
    frame: pd.DataFrame,
    parts: Split,
    challenger: Predictions,
    champion: Predictions,
    custom: tuple[CustomMetric, ...],
) -> SliceRule:
    import numpy as np

    spec = policy.slices
    if spec.column not in frame.columns:
        raise DataError(f"slice column '{spec.column}' not found; the data has "
                        f"{', '.join(map(str, frame.columns))}")
    metric = spec.metric or policy.primary_metric
    values = frame[spec.column].iloc[parts.holdout_target.index].astype("string")
    values = values.fillna(MISSING_SLICE).to_numpy()

    def value_of(predictions: Predictions, rows: np.ndarray) -> float | None:
        found = float(resampled(metric, predictions, rows[None, :], custom)[0])
        return None if np.isnan(found) else found

    scores = []
    for value in sorted(set(values)):
        rows = np.flatnonzero(values == value)
        scores.append(SliceScore(str(value), len(rows), value_of(challenger, rows),
                                 value_of(champion, rows)))
    return SliceRule(spec.column, metric, spec.min_rows, spec.max_regression, scores,
                     policy.direction(metric))


def _slices_record(rule: SliceRule | None) -> dict | None:
    if rule is None:
        return None
    return {"column": rule.column, "metric": rule.metric, "min_rows": rule.min_rows,
            "max_regression": rule.max_regression,
            "values": [vars(score) for score in rule.scores]}


def _store(client: MlflowClient, record: dict, run_id: str | None) -> dict:
    """Write the record and chart on the challenger's training run (``run_id``; none for a
    version registered without one), tag the version; the summary."""
    model, version = record["model"], record["challenger_version"]
    record_uri = chart_uri = None
    if run_id:
        folder = f"{RECORD_FOLDER}/vs-{record['champion_version'] or 'none'}"
        client.log_dict(run_id, record, f"{folder}/decision.json")
        client.log_figure(run_id, comparison_chart(record), f"{folder}/comparison.png")
        record_uri = f"runs:/{run_id}/{folder}/decision.json"
        chart_uri = f"runs:/{run_id}/{folder}/comparison.png"
    summary = {
        key: record[key] for key in (
            "model", "challenger_version", "champion_version", "primary_metric",
            "challenger_metrics", "champion_metrics", "holdout_rows", "verdict", "reasons",
        )
    } | {
        "failed_checks": [check["name"] for check in record["checks"] if not check["passed"]],
        "record_uri": record_uri,
        "chart_uri": chart_uri,
    }
    lineage = record["evaluated_by"]
    registry.set_version_tags(client, model, version, {
        "decision": summary["verdict"],
        "reasons": "; ".join(summary["reasons"]),
        "compared_to": record["champion_version"] or "none",
        "evaluated_by": f"{lineage.get('dag_id')}/{lineage.get('run_id')}",
        DECISION_TAG: summary,
    })
    return summary


def comparison_chart(record: dict) -> Figure:
    """Champion versus challenger per metric and, when sliced, per slice (Agg-rendered)."""
    from matplotlib.figure import Figure

    slices = record.get("slices")
    figure = Figure(figsize=(11 if slices else 6, 4.5), layout="constrained")
    panels = figure.subplots(1, 2 if slices else 1, squeeze=False)[0]
    champion = record["champion_metrics"] or {}
    names = list(record["challenger_metrics"])
    _bars(panels[0], names, [record["challenger_metrics"][n] for n in names],
          [champion.get(n) for n in names], f"v{record['champion_version']}")
    panels[0].set_title(f"{record['model']}: v{record['challenger_version']} "
                        f"{record['verdict']}", parse_math=False)
    if slices:
        values = slices["values"]
        _bars(panels[1], [f"{v['value']}\n({v['rows']})" for v in values],
              [v["challenger"] for v in values], [v["champion"] for v in values],
              f"v{record['champion_version']}")
        panels[1].set_title(f"{slices['metric']} by {slices['column']} (rows)",
                            parse_math=False)
    return figure


def _bars(axes: Any, labels: list[str], challenger: list, champion: list,
          champion_label: str) -> None:
    import numpy as np

    positions = np.arange(len(labels))
    as_numbers = [np.nan if v is None else v for v in champion]
    axes.bar(positions - 0.2, as_numbers, 0.4, label=f"champion {champion_label}")
    axes.bar(positions + 0.2, [np.nan if v is None else v for v in challenger], 0.4,
             label="challenger")
    # Labels are data values: "$...$" is text, not matplotlib math to parse.
    axes.set_xticks(positions, labels, rotation=30, ha="right", parse_math=False)
    axes.legend()
