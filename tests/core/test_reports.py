"""Reports: the HTML page, the JSON result, and where they are stored."""

from __future__ import annotations

import json

import pytest

from airflow_mlops.core.reports import (
    REPORT_FILE,
    RESULT_FILE,
    artifact_location,
    log_reports_to_mlflow,
    render_html,
    write_reports,
)
from airflow_mlops.core.validation import ValidationSummary, validate_frame


@pytest.fixture(scope="module")
def failed(customers, churn_suite):
    frame = customers.head(600).copy()
    frame.loc[0, "region"] = "<script>alert(1)</script>"
    frame.loc[1, "tenure_months"] = 999
    return validate_frame(frame, churn_suite,
                          data_name="s3://lake/customers/ds=2026-01-02/c.csv")


def test_html_shows_outcome_failures_and_every_expectation(failed):
    page = render_html(failed.summary, failed.result)
    assert page.startswith("<!doctype html>")
    assert "Validation of s3://lake/customers/ds=2026-01-02/c.csv" in page
    assert "FAILED" in page and "passed" in page
    assert page.count("<tr>") == 1 + 2 + 1 + 12  # failures head + rows, all head + rows
    assert "tenure_months" in page and "999" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page  # self-contained: no external CSS or scripts


def test_html_of_unusable_data_shows_the_error():
    summary = ValidationSummary.unusable("day.csv", "suite.json", "day.csv: file is empty")
    page = render_html(summary, {"results": []})
    assert "could not be validated" in page and "day.csv: file is empty" in page


def test_write_reports_to_a_folder_and_again(tmp_path, failed):
    folder = tmp_path / "validation" / "dag" / "run" / "task"
    location = write_reports(str(folder), failed.summary, failed.result)
    assert location == str(folder / REPORT_FILE)
    stored = json.loads((folder / RESULT_FILE).read_text())
    assert stored["results"] == failed.result["results"]
    assert stored["summary"]["failed"] == 2
    assert write_reports(folder, failed.summary, failed.result) == location  # re-run: same place
    assert sorted(p.name for p in folder.iterdir()) == sorted([RESULT_FILE, REPORT_FILE])


def test_write_reports_to_object_storage(failed):
    from upath import UPath

    location = write_reports("memory://reports/run-1", failed.summary, failed.result)
    assert location == "memory://reports/run-1/validation_report.html"
    assert "FAILED" in UPath(location).read_text()


def test_a_report_file_planted_as_a_link_out_of_the_folder_is_not_written_through(
        tmp_path, failed):
    from airflow_mlops.core.errors import PathEscapeError

    folder, victim = tmp_path / "results" / "run", tmp_path / "victim.html"
    folder.mkdir(parents=True)
    victim.write_text("precious")
    (folder / REPORT_FILE).symlink_to(victim)

    with pytest.raises(PathEscapeError, match=rf"report file '{REPORT_FILE}' would leave "
                       rf"{folder}: a symbolic link leads to {victim}"):
        write_reports(folder, failed.summary, failed.result)

    assert victim.read_text() == "precious"


def test_log_reports_to_an_mlflow_run(mlflow_session, failed, tmp_path):
    import mlflow

    client = mlflow.MlflowClient()
    run = client.create_run(
        client.create_experiment("reports", artifact_location=str(tmp_path / "artifacts"))
    )
    link = log_reports_to_mlflow(client, run.info.run_id, failed.summary, failed.result,
                                 artifact_path="validation/validate")
    assert link == f"{run.info.artifact_uri}/validation/validate/{REPORT_FILE}"
    names = {a.path for a in client.list_artifacts(run.info.run_id, "validation/validate")}
    assert names == {f"validation/validate/{RESULT_FILE}", f"validation/validate/{REPORT_FILE}"}
    html = mlflow.artifacts.load_text(link)
    assert "tenure_months" in html


def test_artifact_location_joins_the_run_artifact_uri_and_the_path():
    assert artifact_location("s3://a/3/abc/artifacts/", "validation/v/r.html") == \
        "s3://a/3/abc/artifacts/validation/v/r.html"
    assert artifact_location("dbfs:/a", "r.html") == "dbfs:/a/r.html"
