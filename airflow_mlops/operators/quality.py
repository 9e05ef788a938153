"""ModelQualityOperator: the champion's quality on a labelled window, against its training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.drift import finish_check, monitoring_window
from airflow_mlops.operators.lineage import run_lineage
from airflow_mlops.operators.links import MlflowRunLink, ReportLink, storage_path
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


class ModelQualityOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Score the champion on a labelled window; a drop beyond the policy is decay.

    The baseline is the champion's score on its holdout: the metric its training run logged,
    or for a custom metric the value its evaluation recorded. The window has decayed when
    the metric is worse by more than ``max_decay`` (or, when set, ``max_relative_decay`` of
    the baseline). The result is recorded in the MLflow experiment
    ``<experiment_name>/monitoring`` like drift, so :class:`RequestRetrainOperator` can
    request a retrain from it. Returns a summary of at most 4 KB; a model without champion
    skips the task.

    :param model_name: registered model whose champion is scored.
    :param data_uri: the labelled window, CSV or Parquet, local or object storage. (templated)
    :param experiment_name: the model's MLflow experiment. (templated)
    :param target: label column; rows without a label are left out.
    :param metric: metric compared with the holdout's: built-in, or one of ``custom_metrics``.
    :param features: feature columns; every other column when None.
    :param task: ``classification`` or ``regression``.
    :param max_decay: largest tolerated drop, in the metric's units.
    :param max_relative_decay: largest tolerated drop as a fraction of the baseline.
    :param custom_metrics: the promotion policy's custom metrics, by name:
        ``{"function": "pkg.module.fn", "greater_is_better": bool, "needs_proba": bool}``.
    :param on_failure: after decay: ``fail`` (no retry), ``warn`` or ``skip``.
    :param dry_run: report only: never fail or skip.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("data_uri", "experiment_name")
    config_template_fields: Sequence[str] = ("data_uri",)
    operator_extra_links = (ReportLink(), MlflowRunLink())

    def __init__(
        self,
        *,
        model_name: str,
        data_uri: str,
        experiment_name: str,
        target: str,
        metric: str,
        features: list[str] | None = None,
        task: str = "classification",
        max_decay: float = 0.05,
        max_relative_decay: float | None = None,
        custom_metrics: dict[str, dict[str, Any]] | None = None,
        on_failure: str = "warn",
        dry_run: bool = False,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        FailurePolicy(on_failure=on_failure, dry_run=dry_run)
        self.model_name = model_name
        self.data_uri = data_uri
        self.experiment_name = experiment_name
        self.target = target
        self.metric = metric
        self.features = features
        self.task = task
        self.max_decay = max_decay
        self.max_relative_decay = max_relative_decay
        self.custom_metrics = custom_metrics
        self.on_failure = on_failure
        self.dry_run = dry_run
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.drift import NoChampionError
        from airflow_mlops.core.metrics import CustomMetric
        from airflow_mlops.core.quality import monitor_quality

        custom = [CustomMetric(name, **spec) for name, spec in (self.custom_metrics or {}).items()]
        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            with hook.session():
                checked = monitor_quality(
                    model_name=self.model_name,
                    experiment_name=self.experiment_name,
                    window=monitoring_window(context),
                    data_uri=self.data_uri,
                    target=self.target,
                    features=self.features,
                    task=self.task,
                    metric=self.metric,
                    max_decay=self.max_decay,
                    max_relative_decay=self.max_relative_decay,
                    policy=FailurePolicy(on_failure=self.on_failure, dry_run=self.dry_run),
                    lineage=run_lineage(context),
                    artifact_location=hook.get_target().artifact_location,
                    custom=custom,
                    locate=storage_path,
                )
        except NoChampionError as exc:
            raise AirflowSkipException(str(exc)) from None
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        return finish_check(self, context, checked)
