"""Champion versus challenger on the same held-out rows, and the decision that follows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_mlops.core import registry
from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.metrics import TASK_METRICS, greater_is_better, score
from airflow_mlops.core.policy import decide
from airflow_mlops.core.serialization import check_loadable
from airflow_mlops.core.splits import split

if TYPE_CHECKING:
    import pandas as pd

DECISION_TAG = "decision_record"


def _load(model: str, version: str):
    import mlflow.sklearn
    from mlflow.models import get_model_info

    uri = f"models:/{model}/{version}"
    check_loadable(get_model_info(uri).flavors.get("sklearn", {}), f"model '{model}' v{version}")
    return mlflow.sklearn.load_model(uri)


def _resolved_policy(policy: dict, task: str) -> dict:
    """The policy with a primary metric the task produces and that metric's direction."""
    metric = policy.get("primary_metric", "roc_auc")
    available = TASK_METRICS.get(task, ())
    if metric not in available:
        raise ConfigError(
            f"promotion metric '{metric}' is not produced for task '{task}'; "
            f"available: {', '.join(available) or 'none'}"
        )
    direction = policy.get("greater_is_better")
    if direction is None:
        direction = greater_is_better(metric)
    elif direction != greater_is_better(metric):
        raise ConfigError(
            f"promotion metric '{metric}': greater_is_better is {direction}, but "
            f"{'higher' if greater_is_better(metric) else 'lower'} values are better"
        )
    return {**policy, "primary_metric": metric, "greater_is_better": direction}


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
    policy: dict,
    lineage: dict[str, str],
) -> dict:
    """Score challenger and current champion on this data's holdout and decide.

    The decision record is stored on the challenger's version; evaluating the same
    version again returns that record instead of deciding twice, unless the champion
    moved since (then the old record is stale and the challenger is compared again).
    """
    import mlflow

    policy = _resolved_policy(policy, task)
    metric = policy["primary_metric"]
    client = mlflow.MlflowClient()
    champion_version = registry.alias_version(client, model_name, registry.CHAMPION)
    stored = client.get_model_version(model_name, challenger_version).tags.get(
        registry.tag(DECISION_TAG)
    )
    if stored:
        record = json.loads(stored)
        if champion_version in (record["champion_version"], challenger_version):
            return record

    parts = split(frame, target=target, features=features, holdout_fraction=holdout_fraction,
                  seed=seed, task=task)
    challenger_metrics = score(
        _load(model_name, challenger_version), parts.holdout_features, parts.holdout_target, task
    )
    challenger_value = _metric_of(challenger_metrics, metric, model_name, challenger_version)
    champion_metrics = champion_value = None
    if champion_version is not None:
        champion_metrics = score(
            _load(model_name, champion_version), parts.holdout_features, parts.holdout_target, task
        )
        champion_value = _metric_of(champion_metrics, metric, model_name, champion_version)
    decision = decide(
        metric, challenger_value, champion_value,
        **{k: v for k, v in policy.items() if k != "primary_metric"},
    )
    record = {
        "model": model_name,
        "challenger_version": challenger_version,
        "champion_version": champion_version,
        "primary_metric": metric,
        "challenger_metrics": challenger_metrics,
        "champion_metrics": champion_metrics,
        "holdout_rows": len(parts.holdout_target),
        **decision.to_dict(),
    }
    registry.set_version_tags(client, model_name, challenger_version, {
        "decision": decision.verdict,
        "reasons": "; ".join(decision.reasons),
        "compared_to": champion_version or "none",
        "evaluated_by": f"{lineage.get('dag_id')}/{lineage.get('run_id')}",
        DECISION_TAG: record,
    })
    return record
