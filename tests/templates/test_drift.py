"""build_drift_dag, and the retrain template scheduled on its cron or the drift asset."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from airflow.sdk import AssetOrTimeSchedule, TriggerRule

from airflow_mlops.core.config import ModelConfig
from airflow_mlops.templates.drift import (
    build_drift_dag,
    retrain_asset,
    retrain_schedule,
)
from airflow_mlops.templates.retrain import build_retrain_dag

CONFIG = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": "/lake/customers/ds={{ ds }}/customers.csv",
    "target": "churned",
    "features": ["tenure", "plan"],
    "suite": "/suites/churn.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression"},
}


def config(**drift) -> ModelConfig:
    return ModelConfig.model_validate({**CONFIG, "drift": drift})


def upstream(dag) -> dict[str, set[str]]:
    return {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}


def test_drift_dag_checks_then_requests_a_retrain():
    dag = build_drift_dag(config(trigger={"windows": 5, "min_drifted": 3, "cooldown_hours": 12},
                                 columns={"tenure": {"method": "ks", "threshold": 0.01}}))

    assert dag.dag_id == "drift_monitor_churn"
    assert upstream(dag) == {
        "wait_for_data": set(),
        "check_drift": {"wait_for_data"},
        "request_retrain": {"check_drift"},
        "fail_run_if_a_task_failed": {"wait_for_data", "check_drift", "request_retrain"},
    }
    check, request = dag.task_dict["check_drift"], dag.task_dict["request_retrain"]
    assert check.data_uri == CONFIG["data_uri"]
    assert check.reference_roots == ["/lake/customers"]
    assert check.columns == {"tenure": {"method": "ks", "threshold": 0.01}}
    assert (check.on_failure, check.seed, check.sample_size) == ("warn", 42, 100_000)
    assert request.trigger_rule == TriggerRule.ALL_DONE
    assert (request.windows, request.min_drifted, request.cooldown_hours) == (5, 3, 12)
    default = build_drift_dag(config()).task_dict["request_retrain"]
    assert (default.cooldown_windows, default.cooldown_hours) == (1, None)
    assert request.outlets == [retrain_asset("churn")] == request.inlets
    assert dag.task_dict["fail_run_if_a_task_failed"].trigger_rule == TriggerRule.ONE_FAILED


def test_drift_dag_runs_on_its_own_schedule_and_data():
    dag = build_drift_dag(config(schedule="@hourly", data_uri="/scored/{{ ds }}.parquet",
                                 sample_seed=3, on_failure="fail", dry_run=True))

    assert dag.timetable.expression == "0 * * * *"
    check = dag.task_dict["check_drift"]
    assert check.data_uri == dag.task_dict["wait_for_data"].uri == "/scored/{{ ds }}.parquet"
    assert check.reference_roots == ["/lake/customers"]  # the training data's folder
    assert (check.seed, check.on_failure, check.dry_run) == (3, "fail", True)


def test_quality_check_joins_when_labels_are_configured():
    dag = build_drift_dag(config(quality={"data_uri": "/labels/{{ ds }}.csv",
                                          "max_decay": 0.02}))

    assert upstream(dag)["check_quality"] == {"wait_for_labels"}
    assert upstream(dag)["request_retrain"] == {"check_drift", "check_quality"}
    quality = dag.task_dict["check_quality"]
    assert (quality.metric, quality.max_decay) == ("roc_auc", 0.02)
    assert dag.task_dict["request_retrain"].check_task_ids == ["check_drift", "check_quality"]


def test_quality_check_can_use_the_promotion_policys_custom_metric():
    brier = {"function": "sklearn.metrics.brier_score_loss", "greater_is_better": False,
             "needs_proba": True}
    model = ModelConfig.model_validate({
        **CONFIG, "drift": {"quality": {"data_uri": "/labels/{{ ds }}.csv"}},
        "promotion": {"primary_metric": "brier", "custom_metrics": {"brier": brier}},
    })

    quality = build_drift_dag(model).task_dict["check_quality"]

    assert (quality.metric, quality.custom_metrics) == ("brier", {"brier": brier})


def test_retrain_runs_on_its_cron_or_the_drift_asset():
    dag = build_retrain_dag(config())

    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.asset_condition == retrain_asset("churn")
    assert dag.timetable.timetable.expression == "0 0 * * *"
    assert retrain_asset("churn").uri == "mlops://churn/retrain"


def test_retrain_without_cron_runs_on_the_asset_only():
    assert retrain_schedule(ModelConfig.model_validate({**CONFIG, "schedule": None})) == (
        retrain_asset("churn"))


def test_a_bad_cron_is_refused_at_every_build():
    bad = ModelConfig.model_validate({**CONFIG, "schedule": "61 * * * *"})
    for _ in range(2):  # each expression is checked once: a refusal is not remembered as a pass
        with pytest.raises(Exception, match="61 \\* \\* \\* \\*"):
            retrain_schedule(bad)
    good = ModelConfig.model_validate({**CONFIG, "schedule": "0 3 * * *"})
    assert retrain_schedule(good).timetable.expression == "0 3 * * *"  # negative control


def event(ds: str | None, day: int):
    extra = {"window": {"ds": ds}} if ds else {}
    return SimpleNamespace(extra=extra, timestamp=dt.datetime(2026, 3, day))


@pytest.mark.parametrize("context, expected", [
    ({"ds": "2026-03-05"}, "/lake/customers/ds=2026-03-05/customers.csv"),
    ({"triggering_asset_events": {"a": [event("2026-03-02", 2), event("2026-03-04", 4)]}},
     "/lake/customers/ds=2026-03-04/customers.csv"),
    ({"triggering_asset_events": {"a": [event(None, 9)]}},
     "/lake/customers/ds=2026-03-07/customers.csv"),
])
def test_retrain_data_uri_renders_for_scheduled_and_asset_triggered_runs(context, expected):
    dag = build_retrain_dag(config())
    validate = dag.task_dict["validate"]
    context = {"triggering_asset_events": {}, "dag": dag, "ti": SimpleNamespace(task_id="validate"),
               "dag_run": SimpleNamespace(run_after=dt.datetime(2026, 3, 7, 1)), **context}

    validate.render_template_fields(context, dag.get_template_env())

    assert validate.data_uri == expected
