"""TrainChallengerOperator: fit a model on the interval's data and register it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import run_lineage

if TYPE_CHECKING:
    from airflow.sdk import Context


class TrainChallengerOperator(BaseOperator):
    """
    Train a scikit-learn model, log it to MLflow and register it with alias ``challenger``.

    A retry or a cleared task with the same DAG run and data reuses the version the
    first attempt registered.

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
    """

    template_fields: Sequence[str] = ("data_uri", "experiment_name")

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

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.io import file_digest, fingerprint, read_table
        from airflow_mlops.core.training import train_challenger

        try:
            frame = read_table(self.data_uri)
            data_fingerprint = fingerprint(frame)
            hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
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
                    ),
                    artifact_location=hook.get_target().artifact_location,
                )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("Challenger %s v%s (reused: %s)", self.model_name, result["version"],
                      result["reused"])
        self._outcome = {**result, "data_fingerprint": data_fingerprint}
        return self._outcome

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the data in, the registered model version out."""
        from airflow_mlops.operators.openlineage import training_lineage

        return training_lineage(self)
