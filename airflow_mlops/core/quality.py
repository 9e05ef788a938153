"""The champion's quality on a labelled window, against what it scored when it was trained.

Labels often arrive days after the features. Once a window is labelled, the champion is
scored on it and compared with what it scored on its holdout: the metric its training run
logged or, for a custom metric (training logs the built-in ones only), the value its
evaluation recorded. A drop beyond the policy is *decay*, and counts towards a retrain like
drift does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.drift import NoChampionError, fit_summary
from airflow_mlops.core.drift_history import CheckedWindow, Window, record_window
from airflow_mlops.core.errors import ConfigError, DataError, RegistryError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.core.io import StoragePath, as_path, read_table, require_rows
from airflow_mlops.core.metrics import (
    TASK_METRICS,
    CustomMetric,
    compute,
    greater_is_better,
)
from airflow_mlops.core.splits import feature_columns
from airflow_mlops.core.version_predictions import predict_versions

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

RESULT_FILE = "quality_result.json"


@dataclass(frozen=True)
class QualityResult:
    """The champion's metric on one labelled window, and whether it decayed.

    ``greater_is_better`` is the metric's direction; None: a built-in metric's own.
    """

    model: str
    champion_version: str
    metric: str
    baseline: float
    value: float
    rows: int
    max_decay: float
    max_relative_decay: float | None
    greater_is_better: bool | None = None

    @property
    def decay(self) -> float:
        """How much worse than the baseline (negative: better), in the metric's units."""
        change = self.baseline - self.value
        higher_is_better = (greater_is_better(self.metric) if self.greater_is_better is None
                            else self.greater_is_better)
        return change if higher_is_better else -change

    @property
    def relative_decay(self) -> float | None:
        """``decay`` as a fraction of the baseline; None for a zero baseline."""
        return self.decay / abs(self.baseline) if self.baseline else None

    @property
    def decayed(self) -> bool:
        """Whether the decay exceeds the absolute or the relative limit."""
        relative = self.relative_decay
        return self.decay > self.max_decay or (
            self.max_relative_decay is not None and relative is not None
            and relative > self.max_relative_decay
        )

    def reason(self) -> str:
        """One line: the metric now, at training, and the limit."""
        limits = f"max decay {self.max_decay}"
        if self.max_relative_decay is not None:
            limits += f" or {self.max_relative_decay:.0%}"
        return (f"model '{self.model}' v{self.champion_version}: {self.metric} {self.value:.4f} "
                f"on {self.rows} labelled rows, {self.baseline:.4f} at training "
                f"(decay {self.decay:.4f}; {limits})")

    def summary(self, **context: Any) -> dict:
        """JSON-ready, at most 4 KB."""
        return fit_summary({**context, "monitor": "quality", "drifted": self.decayed,
                            **asdict(self), "decay": self.decay,
                            "relative_decay": self.relative_decay})


def check_quality(
    frame: pd.DataFrame,
    *,
    model_name: str,
    target: str,
    features: list[str] | None,
    task: str,
    metric: str,
    max_decay: float,
    max_relative_decay: float | None = None,
    data_name: str = "labelled window",
    custom: Sequence[CustomMetric] = (),
) -> QualityResult:
    """Score the champion on the labelled rows of ``frame`` and compare with its holdout score.

    ``metric`` is a built-in metric of ``task`` or one of the ``custom`` metrics (the
    promotion policy's ``custom_metrics``).

    :raises NoChampionError: the model has no champion.
    :raises RegistryError: neither the champion's training run nor its evaluation recorded
        ``metric``, or the champion cannot be loaded or predict (in a child process).
    :raises DataError: no labelled rows, missing columns, or the metric cannot be computed.
    :raises ConfigError: ``metric`` is none of the task's metrics, or a custom one failed.
    """
    import mlflow

    spec = next((c for c in custom if c.name == metric), None)
    if spec is None and metric not in TASK_METRICS[task]:
        raise ConfigError(
            f"quality metric '{metric}' is no {task} metric ({', '.join(TASK_METRICS[task])}) "
            "and no custom metric of the promotion policy"
        )
    client = mlflow.MlflowClient()
    version = registry.alias_version(client, model_name, registry.CHAMPION)
    if version is None:
        raise NoChampionError(f"model '{model_name}' has no champion yet: nothing to score")
    if target not in frame.columns:
        raise DataError(f"{data_name}: label column '{target}' missing; it has "
                        f"{', '.join(map(str, frame.columns))}")
    labelled = require_rows(frame[frame[target].notna()], f"{data_name} (labelled rows)")
    columns = feature_columns(labelled, target, features)
    baseline = holdout_score(client, model_name, version, metric)
    (predictions,) = predict_versions(model_name, [version], labelled[columns],
                                      labelled[target], task)
    metrics = compute(predictions, custom=() if spec is None else (spec,))
    if metric not in metrics:
        raise DataError(
            f"{data_name}: '{metric}' is undefined on these labels (roc_auc, for one, needs "
            f"two classes); computed: {', '.join(metrics)}"
        )
    return QualityResult(
        model=model_name, champion_version=version, metric=metric, baseline=baseline,
        value=metrics[metric], rows=len(labelled.index), max_decay=max_decay,
        max_relative_decay=max_relative_decay,
        greater_is_better=None if spec is None else spec.greater_is_better,
    )


def holdout_score(client: MlflowClient, model_name: str, version: str, metric: str) -> float:
    """``metric`` of the version on its holdout: logged by its training run, else recorded by
    its evaluation (which also computes the custom metrics).

    :raises RegistryError: neither recorded ``metric``.
    """
    from airflow_mlops.core.evaluation import DECISION_TAG

    details = client.get_model_version(model_name, version)
    logged = client.get_run(details.run_id).data.metrics if details.run_id else {}
    if metric in logged:
        return logged[metric]
    record = json.loads(details.tags.get(registry.tag(DECISION_TAG)) or "{}")
    evaluated = record.get("challenger_metrics") or {}
    if metric in evaluated:
        return float(evaluated[metric])
    raise RegistryError(
        f"model '{model_name}' v{version}: '{metric}' was neither logged by its training run "
        f"({', '.join(sorted(logged)) or 'nothing'}) nor recorded by its evaluation "
        f"({', '.join(sorted(evaluated)) or 'not evaluated'}); choose drift.quality.metric"
    )


def monitor_quality(
    *,
    model_name: str,
    experiment_name: str,
    window: Window,
    data_uri: str,
    target: str,
    features: list[str] | None,
    task: str,
    metric: str,
    max_decay: float,
    policy: FailurePolicy,
    lineage: dict[str, str],
    max_relative_decay: float | None = None,
    artifact_location: str | None = None,
    custom: Sequence[CustomMetric] = (),
    locate: Callable[[str], StoragePath] = as_path,
) -> CheckedWindow:
    """Score the champion on a labelled window and record it in the monitoring history.

    Unusable data (unreadable, no labelled rows, a column missing) is a failed check with the
    reason, recorded too. ``locate`` turns a URI into the path the data is read through.

    :raises NoChampionError: the model has no champion.
    :raises RegistryError: the champion's holdout score of ``metric`` is not recorded.
    """
    context = {"model": model_name, "current": data_uri, "window": window.to_dict()}
    result = None
    try:
        result = check_quality(read_table(locate(data_uri), name=data_uri),
                               model_name=model_name, target=target, features=features,
                               task=task, metric=metric, max_decay=max_decay,
                               max_relative_decay=max_relative_decay, data_name=data_uri,
                               custom=custom)
        reason = result.reason()
    except DataError as exc:
        reason = str(exc)
    summary = (result.summary(**context) if result is not None else
               fit_summary({**context, "monitor": "quality", "drifted": None, "error": reason}))
    recorded = record_window(
        experiment_name=experiment_name, monitor="quality", window=window,
        drifted=None if result is None else result.decayed,
        champion_version=None if result is None else result.champion_version,
        metrics={} if result is None else {metric: result.value, "decay": result.decay},
        files={RESULT_FILE: json.dumps(summary, indent=2)}, report_file=RESULT_FILE,
        lineage=lineage, artifact_location=artifact_location, model=model_name,
    )
    verdict = policy.decide(passed=result is not None and not result.decayed,
                            reason=f"quality of {reason}. Report: {recorded['report']}")
    context |= {"report": recorded["report"], "report_artifact": recorded["report_artifact"],
                "verdict": verdict.to_dict()}
    summary = (result.summary(**context) if result is not None else
               fit_summary({**context, "monitor": "quality", "drifted": None, "error": reason}))
    return CheckedWindow(summary, verdict)
