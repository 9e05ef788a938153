"""TrainChallengerOperator: fit a model on the interval's data and register it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.core.failure import is_deterministic, naming_config
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import night, run_lineage
from airflow_mlops.operators.links import (
    MlflowRunLink,
    ModelVersionLink,
    TaskLinks,
    dag_run_url,
)
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


class TrainChallengerOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Train a scikit-learn model, log it to MLflow and register it with alias ``challenger``.

    A retry or a cleared task with the same DAG run and data reuses the version the
    first attempt registered. The run is named ``<model_name> train <date>``; the version's
    description links to the DAG run. Links: "MLflow run" and "Model version". An error a
    retry cannot fix (a config that does not build, a target or feature missing from the
    data, scikit-learn refusing a parameter) fails the task at once, naming ``config_file``
    and the field; I/O and tracking-server errors are retried.

    :param model_name: registered model name.
    :param data_uri: CSV or Parquet file with features and target. (templated)
    :param target: name of the label column.
    :param estimator: ``{"class": "import.path", "params": {...}}`` or ``{"steps": [...]}``.
    :param features: feature columns; every other column when None.
    :param task: ``classification`` or ``regression``.
    :param holdout_fraction: share of rows held out for evaluation.
    :param seed: seed of the train/holdout split.
    :param experiment_name: MLflow experiment. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    :param config_file: the model config the arguments come from, named in errors.
    """

    template_fields: Sequence[str] = ("data_uri", "experiment_name")
    config_template_fields: Sequence[str] = ("data_uri",)
    operator_extra_links = (MlflowRunLink(), ModelVersionLink())

    def __init__(
        self,
        *,
        model_name: str,
        data_uri: str,
        target: str,
        estimator: dict[str, Any],
        features: list[str] | None = None,
        task: str = "classification",
        holdout_fraction: float = 0.25,
        seed: int = 42,
        experiment_name: str,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        config_file: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.data_uri = data_uri
        self.target = target
        self.estimator = estimator
        self.features = features
        self.task = task
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.experiment_name = experiment_name
        self.mlflow_conn_id = mlflow_conn_id
        self.config_file = config_file

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.io import file_digest, fingerprint, read_table
        from airflow_mlops.core.training import train_challenger

        try:
            frame = read_table(self.data_uri)
            data_fingerprint = fingerprint(frame)
            hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
            target = hook.get_target()
            ti = context["ti"]
            with hook.session():
                result = train_challenger(
                    frame,
                    model_name=self.model_name,
                    experiment_name=self.experiment_name,
                    target=self.target,
                    features=self.features,
                    estimator=self.estimator,
                    task=self.task,
                    holdout_fraction=self.holdout_fraction,
                    seed=self.seed,
                    lineage=run_lineage(
                        context, data_uri=self.data_uri, data_fingerprint=data_fingerprint,
                        data_digest=file_digest(self.data_uri),
                        dag_run_url=dag_run_url(ti.dag_id, ti.run_id),
                    ),
                    artifact_location=target.artifact_location,
                    run_name=f"{self.model_name} train {night(context)}",
                )
                links = TaskLinks(context, target)
                links.run(MlflowRunLink, result["run_id"], experiment_id=result["experiment_id"])
                links.version(ModelVersionLink, self.model_name, result["version"])
        except Exception as exc:
            if not is_deterministic(exc):
                raise
            if isinstance(exc, MlopsError):  # says what to fix: no traceback needed
                raise AirflowFailException(naming_config(str(exc), self.config_file)) from None
            message = naming_config(f"{type(exc).__name__}: {exc}", self.config_file)
            raise AirflowFailException(message) from exc
        links.push()
        self.log.info("Challenger %s v%s (reused: %s). Run: %s", self.model_name,
                      result["version"], result["reused"],
                      links.links[MlflowRunLink.name] or result["run_id"])
        self._outcome = {**result, "data_fingerprint": data_fingerprint}
        return self._outcome

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the data in, the registered model version out."""
        from airflow_mlops.operators.openlineage import training_lineage

        return training_lineage(self)
