"""EvaluateChallengerOperator: challenger versus champion on the same held-out rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.failure import enforce
from airflow_mlops.operators.lineage import run_lineage
from airflow_mlops.operators.links import (
    ChallengerVersionLink,
    ChampionVersionLink,
    ComparisonChartLink,
    DecisionRecordLink,
    ModelCardLink,
    TaskLinks,
)
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    from airflow.sdk import Context


class EvaluateChallengerOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Score the challenger and the current champion on the interval's holdout and decide.

    Returns a small summary: verdict (``promote``, ``reject`` or ``needs_approval``),
    reasons, both versions, their metrics, ``record_uri`` (the full JSON record) and
    ``chart_uri`` (a comparison chart) on the challenger's run, and ``dry_run``; the task's
    links open the record, the chart, both versions and the challenger's model card. The
    summary is also stored as tags on the challenger. A rejected challenger is a failed check
    of the shared failure policy: the summary is pushed, then the task fails, skips or warns.

    :param model_name: registered model name.
    :param challenger_version: version to evaluate. (templated)
    :param data_uri: the same data the challenger was trained on. (templated)
    :param target: name of the label column.
    :param policy: promotion policy, the fields of
        :class:`~airflow_mlops.core.config.PromotionPolicy`: primary_metric, thresholds,
        guardrails, slices, bootstrap, custom_metrics, approval.
    :param features: feature columns; every other column when None.
    :param task: ``classification`` or ``regression``.
    :param holdout_fraction: share of rows held out; must match training.
    :param seed: seed of the split (must match training) and of the bootstrap by default.
    :param on_failure: when the challenger is rejected: ``fail`` (no retry), ``warn``
        (succeed, log a warning) or ``skip`` (skip this task and its downstream tasks).
    :param dry_run: report only: never fail or skip; downstream tasks move nothing.
    :param validation: the validation summary of the data, for the model card. (templated)
    :param purpose: what the model is for, for the model card.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("challenger_version", "data_uri", "validation")
    config_template_fields: Sequence[str] = ("data_uri",)
    operator_extra_links = (DecisionRecordLink(), ComparisonChartLink(), ChallengerVersionLink(),
                            ChampionVersionLink(), ModelCardLink())

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
        on_failure: str = "warn",
        dry_run: bool = False,
        validation: dict | None = None,
        purpose: str | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        FailurePolicy(on_failure=on_failure, dry_run=dry_run)
        self.model_name = model_name
        self.challenger_version = challenger_version
        self.data_uri = data_uri
        self.target = target
        self.policy = policy
        self.features = features
        self.task = task
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.on_failure = on_failure
        self.dry_run = dry_run
        self.validation = validation
        self.purpose = purpose
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        from mlflow import MlflowClient

        from airflow_mlops.core.evaluation import evaluate_challenger
        from airflow_mlops.core.io import read_table
        from airflow_mlops.core.model_card import card_facts, write_card
        from airflow_mlops.core.policy import REJECT
        from airflow_mlops.operators.cards import data_interval

        policy = FailurePolicy(on_failure=self.on_failure, dry_run=self.dry_run)
        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            with hook.session():
                summary = evaluate_challenger(
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
                card = write_card(MlflowClient(), self.model_name, summary["challenger_version"],
                                  card_facts(owner=self.owner, purpose=self.purpose,
                                             validation=self.validation,
                                             data_interval=data_interval(context)))
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        summary = self._outcome = {**summary, "dry_run": self.dry_run}
        links = self._links(context, hook, summary, card)
        if self.do_xcom_push:
            context["ti"].xcom_push(key="return_value", value=summary)
        described = (f"model '{self.model_name}' v{summary['challenger_version']}: "
                     f"{summary['verdict']} ({'; '.join(summary['reasons'])})")
        self.log.info("%s", decision_lines(summary, links.links[DecisionRecordLink.name]))
        enforce(policy.decide(passed=summary["verdict"] != REJECT, reason=described), self.log)
        return summary

    def _links(self, context: Context, hook: MlflowHook, summary: dict,
               card: str | None) -> TaskLinks:
        links = TaskLinks(context, hook.get_target())
        links.artifact(DecisionRecordLink, summary["record_uri"])
        links.artifact(ComparisonChartLink, summary.get("chart_uri"))
        links.version(ChallengerVersionLink, self.model_name, summary["challenger_version"])
        links.version(ChampionVersionLink, self.model_name, summary["champion_version"])
        links.card(card)
        links.push()
        return links

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: both versions and the data in, the decision as a facet."""
        from airflow_mlops.operators.openlineage import decision_lineage

        return decision_lineage(self, "evaluate")


def decision_lines(summary: dict, record_link: str) -> str:
    """The decision as a short block: verdict and metric, then one reason per line."""
    metric = summary["primary_metric"]
    champion = summary["champion_version"]
    challenger_value = summary["challenger_metrics"].get(metric)
    compared = (f"vs v{champion} {_number((summary['champion_metrics'] or {}).get(metric))}"
                if champion else "(first version, no champion yet)")
    lines = [f"Decision for {summary['model']} v{summary['challenger_version']}: "
             f"{summary['verdict']}{' (dry run)' if summary.get('dry_run') else ''}",
             f"{metric}: {_number(challenger_value)} {compared}",
             *(f"- {reason}" for reason in summary["reasons"])]
    record = record_link or summary["record_uri"]
    if record:
        lines.append(f"Decision record: {record}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
