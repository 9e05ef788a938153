"""build_retrain_dag: the nightly validate, train, compare and promote loop for one model."""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import DAG, BaseOperator, TriggerRule

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.operators.cards import RecordApproval
from airflow_mlops.operators.decision import (
    NightSummaryOperator,
    RouteDecisionOperator,
)
from airflow_mlops.operators.deployment import (
    BatchScoreOperator,
    ExportModelOperator,
    ReloadEndpointOperator,
    SmokeCheckOperator,
)
from airflow_mlops.operators.evaluation import EvaluateChallengerOperator
from airflow_mlops.operators.extract import ExtractQueryOperator
from airflow_mlops.operators.registry import PromoteChallengerOperator, RejectChallengerOperator
from airflow_mlops.operators.training import TrainChallengerOperator
from airflow_mlops.operators.validation import ValidateDataOperator
from airflow_mlops.sensors.data import DataPartitionSensor
from airflow_mlops.templates.alerts import notifiers
from airflow_mlops.templates.defaults import dag_arguments, data_wait_seconds
from airflow_mlops.templates.drift import retrain_schedule

DAG_ID_PREFIX = "nightly_retrain"
APPROVE, REJECT = "Approve", "Reject"
APPROVAL_BODY = """\
{% set d = ti.xcom_pull(task_ids='evaluate') %}
{% set links = ti.xcom_pull(task_ids='evaluate', key='mlops_links') or {} %}
Challenger **v{{ d.challenger_version }}** of `{{ d.model }}` \
{% if d.champion_version %}against champion v{{ d.champion_version }}\
{% else %}(first version, no champion yet){% endif %}: \
the promotion policy says **{{ d.verdict }}**.

**Why you are asked:** {% if d.failed_checks %}these checks failed and the policy escalates \
them to a human instead of rejecting: {{ d.failed_checks | join(', ') }}.\
{% else %}the policy asks a human before every promotion (`approval.always`).{% endif %}

{% for reason in d.reasons %}- {{ reason }}
{% endfor %}
{% if links['Decision record'] %}[Decision record]({{ links['Decision record'] }})\
{% if links['Comparison chart'] %} · [comparison chart]({{ links['Comparison chart'] }}){% endif %}\
{% else %}Decision record: `{{ d.record_uri }}`{% endif %}
"""


def _add_deployment(
    config: ModelConfig, *, data_uri: str, promote: BaseOperator, reject: BaseOperator
) -> None:
    """The optional tasks after the decision: ``score`` each night with the champion;
    ``export`` and then ``reload`` only when a new champion was promoted."""
    common = {"model_name": config.name, "mlflow_conn_id": config.mlflow_conn_id}
    deployment = config.deployment
    if deployment.scoring:
        scoring = deployment.scoring
        score = BatchScoreOperator(
            task_id="score",
            data_uri=scoring.data_uri or data_uri,
            output_uri=scoring.output_uri,
            key_columns=scoring.key_columns,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            **common,
        )
        [promote, reject] >> score
    last = promote
    if deployment.export_uri:
        last = promote >> ExportModelOperator(
            task_id="export", target_uri=deployment.export_uri, **common
        )
    if deployment.reload:
        reload = deployment.reload
        last >> ReloadEndpointOperator(
            task_id="reload",
            http_conn_id=reload.http_conn_id,
            endpoint=reload.endpoint,
            method=reload.method,
            payload={"model": config.name, "alias": "champion",
                     "version": "{{ ti.xcom_pull(task_ids='promote')['champion'] }}"},
            attempts=reload.attempts,
            retry_wait=reload.retry_wait_seconds,
        )


def _description(config: ModelConfig) -> str:
    """What the DAG does and when it runs: its cron next to the retrain asset."""
    when = "when drift monitoring requests a retrain"
    if config.schedule is not None:
        when = f"on cron `{config.schedule}` (UTC) or {when}"
    return f"Validate, retrain and compare {config.name} against its champion, {when}"


def build_retrain_dag(config: ModelConfig, *, dag_id: str | None = None) -> DAG:
    """The retrain-and-compare DAG of one model config.

    It runs on the config's cron and whenever drift monitoring requests a retrain (see
    :mod:`airflow_mlops.templates.drift`); such a run reads the requesting window's partition.
    A ``needs_approval`` verdict waits at ``approve`` for a human (Airflow's Required Actions)
    who chooses promote or reject; unanswered, it rejects after the configured timeout. With a
    ``data_query``, an ``extract`` task first lands the query's result at ``data_uri``
    (after ``validate`` when the query is validated in the database).
    """
    common = {"model_name": config.name, "mlflow_conn_id": config.mlflow_conn_id}
    promotion = config.promotion
    hours = promotion.approval.timeout_hours
    timeout = None if hours is None else dt.timedelta(hours=hours)
    data_uri = config.data_uri
    data = {
        "data_uri": data_uri,
        "target": config.target,
        "features": config.features,
        "task": config.task,
        "holdout_fraction": config.holdout_fraction,
        "seed": config.seed,
    }
    with DAG(
        dag_id=dag_id or f"{DAG_ID_PREFIX}_{config.name}",
        description=_description(config),
        schedule=retrain_schedule(config),
        **dag_arguments(config, kind="retrain"),
    ) as dag:
        query = config.data_query
        if query:
            data_ready = ExtractQueryOperator(
                task_id="extract",
                sql=query.sql,
                conn_id=query.conn_id,
                output_uri=data_uri,
                max_rows=query.max_rows,
                seed=config.seed,
                key_column=query.key_column,
            )
        else:
            data_ready = DataPartitionSensor(
                task_id="wait_for_data",
                uri=data_uri,
                mode="reschedule",
                poke_interval=60,
                timeout=data_wait_seconds(config),
            )
        if query and query.validate_in_database:  # validated where it lives, then landed
            validate = ValidateDataOperator(
                task_id="validate", sql=query.sql, conn_id=query.conn_id,
                in_database=True, suite=str(config.suite),
                experiment_name=config.experiment_name, **common,
            )
        else:
            validate = ValidateDataOperator(
                task_id="validate", data_uri=data_uri, suite=str(config.suite),
                experiment_name=config.experiment_name, **common,
            )
        train = TrainChallengerOperator(
            task_id="train",
            estimator=config.estimator.model_dump(by_alias=True, exclude_none=True),
            experiment_name=config.experiment_name,
            config_file=config.source_file and str(config.source_file),
            **common,
            **data,
        )
        evaluate = EvaluateChallengerOperator(
            task_id="evaluate",
            challenger_version="{{ ti.xcom_pull(task_ids='train')['version'] }}",
            policy=config.promotion.model_dump(),
            on_failure=promotion.on_failure,
            dry_run=promotion.dry_run,
            validation=validate.output,
            purpose=config.purpose,
            **common,
            **data,
        )
        approve = HITLBranchOperator(
            task_id="approve",
            subject=f"Promote {config.name} v{{{{ ti.xcom_pull(task_ids='evaluate')"
            "['challenger_version'] }} to champion?",
            body=APPROVAL_BODY,
            options=[APPROVE, REJECT],
            options_mapping={APPROVE: "smoke_check", REJECT: "reject"},
            defaults=[REJECT],
            response_timeout=timeout,
            execution_timeout=None,  # the wait for a human has its own timeout
            on_success_callback=RecordApproval(**common),
        )
        # Either route_decision or approve leads here: the other one is skipped.
        smoke = SmokeCheckOperator(
            task_id="smoke_check",
            version="{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}",
            data_uri=data_uri,
            sample_rows=config.deployment.smoke_sample_rows,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            **common,
        )
        # Only after a passed smoke check: a skipped one (reject) skips it, a failed one
        # fails it (its other upstream, evaluate, has succeeded either way).
        promote = PromoteChallengerOperator(
            task_id="promote",
            decision=evaluate.output,
            max_active_tis_per_dag=1,
            on_success_callback=notifiers(config.alerts.on_promotion),
            **({"pool": promotion.pool} if promotion.pool else {}),
            **common,
        )
        reject = RejectChallengerOperator(
            task_id="reject",
            decision=evaluate.output,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            **common,
        )
        summary = NightSummaryOperator(
            task_id="summary",
            validation=validate.output,
            decision=evaluate.output,
            promotion=promote.output,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        )
        if query and query.validate_in_database:
            validate >> data_ready >> train >> evaluate
        else:
            data_ready >> validate >> train >> evaluate
        route = RouteDecisionOperator(task_id="route_decision", decision=evaluate.output)
        # One call per upstream task: each call hashes the DAG once per task it names.
        # Arguments taking an ``.output`` already set evaluate -> route, promote and reject,
        # and validate, evaluate and promote -> summary.
        route >> [approve, smoke, reject]
        approve >> [smoke, reject]
        smoke >> promote
        reject >> summary
        _add_deployment(config, data_uri=data_uri, promote=promote, reject=reject)
    return dag
