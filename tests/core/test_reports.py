"""Reports: the HTML page, the JSON result, and where they are stored."""

from __future__ import annotations

import html
import json

import pytest

from airflow_mlops.core.reports import (
    REPORT_FILE,
    RESULT_FILE,
    log_reports_to_mlflow,
    mlflow_artifact_link,
    render_html,
    safe_evidently_html,
    script_safe_json,
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
    assert "http:" not in page and "https:" not in page  # no external CSS or scripts


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


def test_links_to_the_mlflow_ui_for_http_servers():
    assert mlflow_artifact_link("https://mlflow.internal/", "3", "abc", "s3://a/3/abc/artifacts",
                                "validation/v/r.html") == \
        "https://mlflow.internal/#/experiments/3/runs/abc/artifactPath/validation/v/r.html"
    assert mlflow_artifact_link("databricks", "3", "abc", "dbfs:/a/", "r.html") == "dbfs:/a/r.html"


def test_script_safe_json_is_the_same_json_without_markup_characters():
    value = {"</script><!--": ["<b>&amp;</b>", 1]}
    text = script_safe_json(json.dumps(value))

    assert not set("<>&") & set(text)
    assert json.loads(text) == value


def evidently_shaped(info: dict) -> str:
    """A page shaped as Evidently 0.7 writes its standalone report."""
    return ("<!DOCTYPE html><html><head><style>p{}</style><script>\n"
            f"    var metric_1a = {json.dumps(info)};\n"
            "    var additional_graphs_metric_1a = {};\n</script>"
            "</head><body><script>draw(metric_1a)</script></body></html>")


def test_evidentlys_data_is_re_escaped_and_only_its_own_scripts_are_allowed():
    page = safe_evidently_html(evidently_shaped({"column": "</script><head><script>x()"}))

    data = page.split("<script>", 1)[1].split("</script>", 1)[0]
    assert json.loads(data.split(" = ", 1)[1].split(";\n", 1)[0]) == {
        "column": "</script><head><script>x()"}
    assert page.count("<script>") == 2
    policy = html.unescape(page.split('content="', 1)[1].split('"', 1)[0])
    scripts = policy.split("script-src ", 1)[1].split(";", 1)[0].split()
    assert len(scripts) == 2 and all(s.startswith("'sha256-") for s in scripts)


def test_a_page_not_shaped_as_evidentlys_is_refused():
    with pytest.raises(ValueError, match="one data script"):
        safe_evidently_html("<html><head></head><body><script>x()</script></body></html>")
