"""TrainChallengerOperator in real DAG runs: errors a retry cannot fix fail once, naming the
config file and field; a tracking server out of reach is retried."""

from __future__ import annotations

import datetime as dt
import json
import runpy
import socket
import textwrap

import pytest
import yaml

LOGICAL_DATE = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
DAG_FILE = textwrap.dedent('''
    import datetime as dt
    import json

    from airflow.sdk import DAG

    from airflow_mlops.operators.training import TrainChallengerOperator

    with DAG(
        dag_id={dag_id!r},
        schedule="@daily",
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        default_args={{"retries": 2, "retry_delay": dt.timedelta(seconds=0)}},
    ) as dag:
        TrainChallengerOperator(task_id="train", **json.loads({kwargs!r}))
''')

pytestmark = pytest.mark.e2e


@pytest.fixture
def run_train(airflow_db, tmp_path, dag_bundle, customers):
    """run_train(dag_id, **overrides) -> (state, try_number) of ``train``, whose arguments
    come from the model config written to tmp_path/models/<dag_id>.yaml."""
    from airflow.utils.session import create_session

    data = tmp_path / "data" / "ds=2026-01-02" / "customers.csv"
    data.parent.mkdir(parents=True)
    customers.head(600).to_csv(data, index=False)

    def run(dag_id: str, **overrides) -> tuple[str, int]:
        arguments = {
            "model_name": dag_id, "data_uri": str(data), "target": "churned",
            "features": FEATURES, "holdout_fraction": 0.3, "seed": 7,
            "experiment_name": f"airflow-mlops/{dag_id}",
            "estimator": {"steps": [{"class": "sklearn.preprocessing.StandardScaler"},
                                    {"class": "sklearn.linear_model.LogisticRegression",
                                     "params": {"C": 1.0, "max_iter": 500}}]},
            **overrides,
        }
        config = tmp_path / "models" / f"{dag_id}.yaml"
        config.parent.mkdir(exist_ok=True)
        config.write_text(yaml.safe_dump({k: v for k, v in arguments.items()
                                          if k in ("target", "features", "estimator")},
                                         sort_keys=False))
        path = dag_bundle / f"{dag_id}.py"
        path.write_text(DAG_FILE.format(dag_id=dag_id, kwargs=json.dumps(
            {**arguments, "config_file": str(config)})))
        dagrun = runpy.run_path(str(path))["dag"].test(logical_date=LOGICAL_DATE)
        with create_session() as session:
            (ti,) = dagrun.get_task_instances(session=session)
            return ti.state, ti.try_number

    return run


def test_a_bad_estimator_parameter_fails_once_naming_the_field(run_train, mlflow_connection,
                                                                tmp_path, capfd):
    state, tries = run_train("bad_param", estimator={"steps": [
        {"class": "sklearn.preprocessing.StandardScaler"},
        {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": -1.0}}]})

    assert (state, tries) == ("failed", 1)  # retries=2 not used
    logs = "".join(capfd.readouterr())
    config = tmp_path / "models" / "bad_param.yaml"
    assert f"{config}: field 'estimator.steps.1.params.C' (line 13): estimator " \
           "'sklearn.linear_model.LogisticRegression': The 'C' parameter of " \
           "LogisticRegression must be" in logs
    assert logs.count("Traceback") == 1, "scikit-learn's own traceback is not repeated"


def test_a_target_missing_from_the_data_fails_once_naming_the_field(run_train,
                                                                    mlflow_connection,
                                                                    tmp_path, capfd):
    state, tries = run_train("no_target", target="churn")

    assert (state, tries) == ("failed", 1)
    config = tmp_path / "models" / "no_target.yaml"
    assert f"{config}: field 'target' (line 1): column 'churn' is not in the data" in \
        "".join(capfd.readouterr())


def test_the_same_task_trains_when_the_config_is_right(run_train, mlflow_connection):
    """The negative control: the arguments the failing runs change are all that is wrong."""
    assert run_train("trains") == ("success", 1)


def test_a_tracking_server_out_of_reach_is_retried(run_train, monkeypatch, capfd):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(
        {"conn_type": "mlflow", "host": f"http://127.0.0.1:{port}"}))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")

    assert run_train("unreachable") == ("failed", 3)  # the first try and both retries
