"""EvaluateChallengerOperator: challenger versus champion on the same held-out rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import run_lineage

if TYPE_CHECKING:
    from airflow.sdk import Context


class EvaluateChallengerOperator(BaseOperator):
    """
    Score the challenger and the current champion on the interval's holdout and decide.

    Returns the decision record: verdict (``promote`` or ``reject``), reasons, both
    versions and their metrics. The record is also stored as tags on the challenger.

    :param model_name: registered model name.
    :param challenger_version: version to evaluate. (templated)
    :param data_uri: the same data the challenger was trained on. (templated)
    :param target: name of the label column.
    :param policy: promotion policy: primary_metric, greater_is_better, threshold,
        min_absolute_change, min_relative_change.
    :param features: feature columns; every other column when None.
    :param task: ``classification`` or ``regression``.
    :param holdout_fraction: share of rows held out; must match training.
    :param seed: seed of the split; must match training.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("challenger_version", "data_uri")

    def __init__(
        self,
        *,
        model_name: str,
        challenger_version: str,
        data_uri: str,
        target: str,
        policy: dict,
        features: list[str] | None = None,
        task: str = "classification",
        holdout_fraction: float = 0.25,
        seed: int = 42,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.challenger_version = challenger_version
        self.data_uri = data_uri
        self.target = target
        self.policy = policy
        self.features = features
        self.task = task
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.evaluation import evaluate_challenger
        from airflow_mlops.core.io import read_table

        try:
            with MlflowHook(mlflow_conn_id=self.mlflow_conn_id).session():
                record = evaluate_challenger(
                    read_table(self.data_uri),
                    model_name=self.model_name,
                    challenger_version=str(self.challenger_version),
                    target=self.target,
                    features=self.features,
                    task=self.task,
                    holdout_fraction=self.holdout_fraction,
                    seed=self.seed,
                    policy=self.policy,
                    lineage=run_lineage(context),
                )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("Decision for %s v%s: %s (%s)", self.model_name, self.challenger_version,
                      record["verdict"], "; ".join(record["reasons"]))
        return record
