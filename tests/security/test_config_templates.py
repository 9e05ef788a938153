"""Template text in a model config cannot run code: refused at load, refused at run time.

The payload reaches ``os.system`` through Airflow's ``macros`` in Airflow's own Jinja sandbox
(the negative controls prove it writes the marker there); the config check, the factory and
the operators refuse it, and the marker never appears.
"""

from __future__ import annotations

import datetime as dt
import runpy
import textwrap
from pathlib import Path

import pytest
import yaml

from airflow_mlops.cli.config import check
from airflow_mlops.templates.factory import BROKEN_TAG, build_dags
from airflow_mlops.templates.retrain import build_retrain_dag

REPO = Path(__file__).resolve().parents[2]


def payload(marker: Path) -> str:
    return f"{{{{ macros.uuid.os.system('id > {marker}') }}}}"


def churn_config(**changes) -> dict:
    config = yaml.safe_load((REPO / "dags" / "models" / "churn.yaml").read_text())
    return {**config, "suite": str(REPO / "expectations" / "churn.json"), **changes}


def config_with(field: str, text: str) -> dict:
    if field == "data_query.sql":
        return churn_config(data_query={"sql": text, "conn_id": "warehouse"})
    if field == "alerts.on_failure.0.params.subject":
        notifier = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
        return churn_config(alerts={"on_failure": [{"notifier": notifier,
                                                    "params": {"subject": text}}]})
    return churn_config(**{field: text})


def written(folder: Path, config: dict) -> Path:
    path = folder / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1)
                if line.lstrip().startswith(f"{key}:"))


FIELDS = ["data_uri", "data_query.sql", "alerts.on_failure.0.params.subject"]


@pytest.mark.parametrize("field", FIELDS)
def test_config_check_refuses_the_payload_naming_file_field_and_line(tmp_path, field, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path))
    marker = tmp_path / "marker"
    path = written(tmp_path, config_with(field, "/lake/" + payload(marker)))

    code, lines = check([path])

    assert code == 1
    line = line_of(path, field.split(".")[-1])
    assert f"FAIL {path}: field '{field}' (line {line}): a call is not allowed" in lines[0]
    assert not marker.exists()


@pytest.mark.parametrize("field", FIELDS)
def test_the_factory_gives_the_model_an_error_dag_instead(tmp_path, field, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", str(tmp_path))
    marker = tmp_path / "marker"
    written(tmp_path, config_with(field, payload(marker)))
    written(tmp_path, churn_config(name="upsell"))

    dags = {d.dag_id: d for d in build_dags(build_retrain_dag, tmp_path,
                                            dag_id_prefix="nightly_retrain")}

    assert BROKEN_TAG not in dags["nightly_retrain_upsell"].tags
    broken = dags["nightly_retrain_churn"]
    assert BROKEN_TAG in broken.tags
    assert f"field '{field}' (line " in broken.description
    assert "a call is not allowed in a config" in broken.description
    assert not marker.exists()


PROBE = textwrap.dedent('''
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_mlops.operators.extract import ExtractQueryOperator
    from airflow_mlops.operators.templating import TrustedTemplate

    with DAG(dag_id="config_text_probe", schedule=None,
             start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) as dag:
        ExtractQueryOperator(task_id="extract", conn_id="nowhere", output_uri=OUTPUT,
                             sql=TrustedTemplate(SQL) if TRUSTED else SQL, retries=0)
''')


@pytest.fixture
def run_probe(airflow_db, dag_bundle, tmp_path, task_states):
    """Run a DAG that builds ExtractQueryOperator directly from text; return its task state."""

    def run(sql: str, *, trusted: bool) -> str:
        path = dag_bundle / "config_text_probe.py"
        path.write_text(f"SQL = {sql!r}\nOUTPUT = {str(tmp_path / 'out.parquet')!r}\n"
                        f"TRUSTED = {trusted}\n" + PROBE)
        dag = runpy.run_path(str(path))["dag"]
        return task_states(dag.test(logical_date=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)))

    return run


def test_an_operator_built_directly_from_the_text_fails_without_running_it(run_probe, tmp_path):
    marker = tmp_path / "marker"

    states = run_probe(f"SELECT 1 -- {payload(marker)}", trusted=False)

    assert states == {"extract": "failed"}
    assert not marker.exists()


def test_negative_control_airflow_jinja_runs_the_payload(run_probe, tmp_path):
    marker = tmp_path / "marker"

    run_probe(f"SELECT 1 -- {payload(marker)}", trusted=True)

    assert marker.exists()  # what Airflow's own rendering of this text does


def test_rendered_config_text_is_never_rendered_again(tmp_path):
    """Allowed text may render to Jinja (``{% raw %}``); Airflow must not render that again."""
    marker = tmp_path / "marker"
    raw = "{% raw %}" + payload(marker) + "{% endraw %}"
    (tmp_path / "churn.yaml").write_text(yaml.safe_dump(churn_config(data_uri="/lake/" + raw)))
    (dag,) = build_dags(build_retrain_dag, tmp_path, dag_id_prefix="nightly_retrain")
    validate = dag.get_task("validate")
    from airflow.sdk.execution_time import macros

    context = {"dag": dag, "ti": validate, "ds": "2026-01-02", "macros": macros}
    for _ in range(2):
        validate.render_template_fields(context, dag.get_template_env())

    assert validate.data_uri == "/lake/" + payload(marker)
    assert not marker.exists()
    # Negative control: the same output rendered by Airflow's environment runs the payload.
    dag.get_template_env().from_string(validate.data_uri).render(context)
    assert marker.exists()


def test_the_error_dag_never_renders_the_config_text_it_quotes(tmp_path, monkeypatch,
                                                              airflow_db, task_states):
    """An error quotes the config (here an unknown field's name); config_error renders nothing."""
    from airflow.sdk.execution_time import macros

    marker = tmp_path / "marker"
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIGS", str(folder))
    (folder / "churn.yaml").write_text(yaml.safe_dump({**churn_config(), payload(marker): 1}))
    dags = runpy.run_path(str(REPO / "dags" / "nightly_retrain.py"))["dags"]
    (broken,) = [d for d in dags if d.dag_id == "nightly_retrain_churn"]
    message = broken.get_task("config_error").message
    assert payload(marker) in message

    run = broken.test()

    assert task_states(run) == {"config_error": "failed"}
    assert not marker.exists()
    # Negative control: rendered as a task argument would be, the message runs the payload.
    broken.get_template_env().from_string(message).render(macros=macros)
    assert marker.exists()
