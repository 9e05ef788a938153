"""ValidateDataOperator: the Great Expectations gate in front of training."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import ConfigError, PathEscapeError, SuiteError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.failure import enforce
from airflow_mlops.operators.lineage import night, run_lineage
from airflow_mlops.operators.links import (
    REPORT_XCOM_KEY,
    MlflowRunLink,
    ReportLink,
    TaskLinks,
    default_results_uri,
    results_base_uri,
    storage_path,
)
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context

    from airflow_mlops.core.tracking import TrackingTarget
    from airflow_mlops.core.validation import ValidationSummary

MAX_QUERY_NAME = 100


class ValidateDataOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Validate a data set against a Great Expectations suite; act on failure by policy.

    The data is a CSV or Parquet file (``data_uri``), the result of a SQL query (``sql``
    on connection ``conn_id``), or a table (``table``, optionally filtered by ``where``).
    A table, and a query with ``in_database``, is validated inside the database with GX's
    SQL execution: the rows never reach the worker. GX runs in an ephemeral context, nothing
    is loaded when the DAG is parsed, and the input is only ever read.

    The task pushes a summary of at most 4 KB as its return value (``success``, ``rows``,
    ``evaluated``, ``failed``, and per failed expectation its column, type, observed value,
    unexpected percent and up to 5 example values). The full GX result (JSON) and an HTML
    report go to the MLflow run ``mlflow_run_id`` when given; else, with ``experiment_name``,
    to this task instance's run in that experiment (``<model_name> validate <date>``, reused
    by a re-run); else under ``results_uri``. The task's "Report" link opens the report over
    http(s) (see :mod:`airflow_mlops.operators.links`). The summary is pushed before any
    failure is raised.

    :param data_uri: CSV or Parquet file: a local path, ``file://`` or object-storage URI
        (``s3://conn_id@bucket/key``), read through ObjectStoragePath. (templated)
    :param suite: a GX 1.x ExpectationSuite JSON file or, with ``context_root_dir``, the name
        of a suite stored in that GX project. (templated)
    :param sql: a query whose result is validated instead of a file. (templated)
    :param table: ``schema.table`` (or ``table``) on ``conn_id``, validated in the
        database. (templated)
    :param where: a SQL condition selecting the table's partition, e.g.
        ``day = '{{ ds }}'``. (templated)
    :param conn_id: SQL connection the query or table is on (any connection with a
        SQLAlchemy URL: PostgreSQL, Snowflake, BigQuery, Redshift, MySQL, SQLite, ...).
    :param in_database: validate the query's result inside the database instead of
        reading it into the worker.
    :param timeout_seconds: statement timeout of in-database queries (PostgreSQL).
    :param on_failure: ``fail`` (no retry), ``warn`` (succeed, log a warning) or ``skip``
        (skip this task and its downstream tasks).
    :param dry_run: report only: never fail or skip, and quarantine nothing.
    :param quarantine_to: folder a failing batch is copied into (never moved). (templated)
    :param results_uri: folder for the JSON result and HTML report; by default
        ``<[mlops] results_base_uri>/validation/<dag_id>/<run_id>/<task_id>``. (templated)
    :param mlflow_run_id: MLflow run that receives the reports as artifacts instead. (templated)
    :param experiment_name: MLflow experiment in which the task logs its reports to a run of
        its own. (templated)
    :param model_name: the model the data is for; names that run.
    :param mlflow_conn_id: connection of the MLflow tracking server.
    :param context_root_dir: folder of a GX project (``great_expectations.yml``) whose
        stored suites ``suite`` may name. (templated)
    """

    template_fields: Sequence[str] = (
        "data_uri", "suite", "sql", "table", "where", "quarantine_to", "results_uri",
        "mlflow_run_id", "experiment_name", "context_root_dir",
    )
    config_template_fields: Sequence[str] = ("data_uri", "suite", "sql", "table", "where")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}
    operator_extra_links = (ReportLink(), MlflowRunLink())

    def __init__(
        self,
        *,
        suite: str,
        data_uri: str | None = None,
        sql: str | None = None,
        table: str | None = None,
        where: str | None = None,
        conn_id: str | None = None,
        in_database: bool = False,
        timeout_seconds: float | None = None,
        on_failure: str = "fail",
        dry_run: bool = False,
        quarantine_to: str | None = None,
        results_uri: str | None = None,
        mlflow_run_id: str | None = None,
        experiment_name: str | None = None,
        model_name: str | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        context_root_dir: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if sum(source is not None for source in (data_uri, sql, table)) != 1:
            raise ConfigError(f"{self.task_id}: give exactly one of data_uri, sql or table")
        if data_uri is None and not conn_id:
            raise ConfigError(f"{self.task_id}: sql and table need conn_id, the connection "
                              "they are on")
        if (table is not None or in_database) and quarantine_to:
            raise ConfigError(f"{self.task_id}: data validated in the database stays there; "
                              "quarantine_to copies files and query results only")
        FailurePolicy(on_failure=on_failure, dry_run=dry_run)
        self.suite = suite
        self.data_uri = data_uri
        self.sql = sql
        self.table = table
        self.where = where
        self.conn_id = conn_id
        self.in_database = in_database or table is not None
        self.timeout_seconds = timeout_seconds
        self.on_failure = on_failure
        self.dry_run = dry_run
        self.quarantine_to = quarantine_to
        self.results_uri = results_uri
        self.mlflow_run_id = mlflow_run_id
        self.experiment_name = experiment_name
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.context_root_dir = context_root_dir

    @property
    def data_name(self) -> str:
        """How messages and reports name the data set."""
        if self.data_uri is not None:
            return self.data_uri
        if self.in_database:
            return self._source().name
        query = re.sub(r"\s+", " ", self.sql).strip()
        if len(query) > MAX_QUERY_NAME:
            query = query[: MAX_QUERY_NAME - 3] + "..."
        return f"query on {self.conn_id}: {query}"

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.validation import check_data, resolve_suite

        policy = FailurePolicy(on_failure=self.on_failure, dry_run=self.dry_run)
        try:
            suite = resolve_suite(self.suite, self.context_root_dir)
            if self.in_database:
                validation, frame = self._validate_in_database(suite), None
            else:
                validation, frame = check_data(self._read, suite, data_name=self.data_name)
        except (SuiteError, ConfigError) as exc:  # a broken suite or setup: always fail
            raise AirflowFailException(str(exc)) from None
        summary, result = validation.summary, validation.result
        try:
            if not summary.success and self.quarantine_to and not policy.dry_run:
                summary = replace(summary, quarantined_to=self._quarantine(frame))
            links = TaskLinks(context, self._tracking_target())
            summary = replace(summary, report=self._store_reports(context, summary, result, links))
        except PathEscapeError as exc:  # a hostile name: a retry would only refuse it again
            raise AirflowFailException(str(exc)) from None
        context["ti"].xcom_push(key=REPORT_XCOM_KEY, value=summary.report)
        links.push()
        output = summary.to_dict()
        self._outcome = {"summary": output, "result": result}
        if self.do_xcom_push:
            context["ti"].xcom_push(key="return_value", value=output)
        self.log.info("%s. Report: %s", summary.headline(),
                      links.links[ReportLink.name] or summary.report)
        enforce(policy.decide(passed=summary.success, reason=summary.failure_message()), self.log)
        return output

    def _source(self, url: str = ""):
        from airflow_mlops.core.sql_sources import SqlSource

        return SqlSource(url=url, connection=f"connection {self.conn_id}", table=self.table,
                         where=self.where or None,
                         query=self.sql if self.table is None else None,
                         timeout_seconds=self.timeout_seconds)

    def _validate_in_database(self, suite):
        """Validate the table or query inside the database (a refusing database: retried)."""
        from airflow_mlops.core.sql_sources import connection_url
        from airflow_mlops.core.sql_validation import validate_source

        return validate_source(self._source(connection_url(self.conn_id)), suite)

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the data as input, with its expectations' results and rows."""
        from airflow_mlops.operators.openlineage import validation_lineage

        return validation_lineage(self)

    def _read(self) -> pd.DataFrame:
        from airflow_mlops.core.io import read_table

        if self.data_uri is not None:
            return read_table(storage_path(self.data_uri), name=self.data_uri)
        return self._read_query()

    def _read_query(self) -> pd.DataFrame:
        from airflow_mlops.operators.extract import query_frame

        return query_frame(self.conn_id, self.sql, self.data_name)

    def _quarantine(self, frame: pd.DataFrame | None) -> str | None:
        from airflow_mlops.core.paths import refuse_traversal
        from airflow_mlops.core.quarantine import quarantine_file, quarantine_frame

        folder = storage_path(refuse_traversal(self.quarantine_to, what="quarantine_to"))
        if self.data_uri is not None:
            source = storage_path(self.data_uri)
            return quarantine_file(source, folder) if source.exists() else None
        return None if frame is None else quarantine_frame(frame, folder, f"{self.task_id}.parquet")

    def _store_reports(self, context: Context, summary: ValidationSummary, result: dict,
                       links: TaskLinks) -> str:
        """Store both files; the report's location. Adds the links to ``links``."""
        from airflow_mlops.core.paths import refuse_traversal, require_under
        from airflow_mlops.core.reports import REPORT_FILE, write_reports

        if self.mlflow_run_id or self.experiment_name:
            run_id, location = self._log_to_mlflow(context, summary, result, links.target)
            links.artifact(ReportLink, f"runs:/{run_id}/validation/{self.task_id}/{REPORT_FILE}")
            links.run(MlflowRunLink, run_id)
            return location
        if self.results_uri:
            folder = refuse_traversal(self.results_uri, what="results_uri")
        else:  # dag_id, run_id and task_id may not lead out of the results base
            folder = require_under(results_base_uri(), default_results_uri(context, "validation"),
                                   what="results folder")
        location = write_reports(storage_path(folder), summary, result)
        links.file(ReportLink, location)
        return location

    def _tracking_target(self) -> TrackingTarget | None:
        """The MLflow server the reports go to; None when they go to results files."""
        if self.mlflow_run_id or self.experiment_name:
            return MlflowHook(mlflow_conn_id=self.mlflow_conn_id).get_target()
        return None

    def _log_to_mlflow(self, context: Context, summary: ValidationSummary, result: dict,
                       target: TrackingTarget) -> tuple[str, str]:
        """(run id, report location) of the reports logged to the MLflow run."""
        from mlflow import MlflowClient

        from airflow_mlops.core.reports import log_reports_to_mlflow
        from airflow_mlops.core.tracking import ensure_experiment, task_run, tracking_session

        with tracking_session(target):
            run_id = self.mlflow_run_id
            if not run_id:
                experiment_id = ensure_experiment(self.experiment_name, target.artifact_location)
                run_id = task_run(experiment_id, lineage=run_lineage(context),
                                  run_name=f"{self.model_name or context['ti'].dag_id} "
                                           f"validate {night(context)}")
            client = MlflowClient()
            location = log_reports_to_mlflow(client, run_id, summary, result,
                                             artifact_path=f"validation/{self.task_id}")
            if not self.mlflow_run_id:
                client.set_terminated(run_id, "FINISHED")
        return run_id, location
