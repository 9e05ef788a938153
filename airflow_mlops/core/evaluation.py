"""Champion versus challenger on the same held-out rows, and the decision that follows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_mlops.core import registry
from airflow_mlops.core.metrics import score
from airflow_mlops.core.policy import decide
from airflow_mlops.core.splits import split

if TYPE_CHECKING:
    import pandas as pd

DECISION_TAG = "decision_record"


def _load(model: str, version: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{model}/{version}")


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
    version again returns that record instead of deciding twice.
    """
    import mlflow

    client = mlflow.MlflowClient()
    tags = client.get_model_version(model_name, challenger_version).tags
    if registry.tag(DECISION_TAG) in tags:
        return json.loads(tags[registry.tag(DECISION_TAG)])

    parts = split(frame, target=target, features=features, holdout_fraction=holdout_fraction,
                  seed=seed, task=task)
    metric = policy.get("primary_metric", "roc_auc")
    challenger_metrics = score(
        _load(model_name, challenger_version), parts.holdout_features, parts.holdout_target, task
    )
    champion_version = registry.alias_version(client, model_name, registry.CHAMPION)
    champion_metrics = None
    if champion_version is not None:
        champion_metrics = score(
            _load(model_name, champion_version), parts.holdout_features, parts.holdout_target, task
        )
    decision = decide(
        metric,
        challenger_metrics[metric],
        champion_metrics[metric] if champion_metrics else None,
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
