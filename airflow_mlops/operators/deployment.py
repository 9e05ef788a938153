"""Deployment operators: smoke check before an alias moves, batch scoring, export, reload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_mlops.core.errors import ConfigError, MlopsError
from airflow_mlops.hooks.mlflow import MlflowHook
from airflow_mlops.operators.lineage import run_lineage
from airflow_mlops.operators.links import ModelVersionLink, OutputLink, TaskLinks, storage_path
from airflow_mlops.operators.templating import ConfigTemplatedMixin

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context

# Answers worth asking again: request timeout, too many requests, server errors.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _push_links(context: Context, hook: MlflowHook, model: str, version: str,
                output: str | None = None) -> None:
    """Links to the version the task acted on and, when browsable, to its output."""
    links = TaskLinks(context, hook.get_target())
    links.version(ModelVersionLink, model, version)
    if output is not None:
        links.url(OutputLink, output)
    links.push()


def _alias_version(model_name: str, alias: str) -> str:
    """The version ``alias`` points at; skips the task when the alias is unset."""
    import mlflow

    from airflow_mlops.core.registry import alias_version

    version = alias_version(mlflow.MlflowClient(), model_name, alias)
    if version is None:
        raise AirflowSkipException(f"model '{model_name}' has no '{alias}' alias yet")
    return version


class SmokeCheckOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Load a model version as a consumer would and predict on a sample of real data.

    Run it before an alias moves. A version whose files are missing, tampered, pickled or
    trust types outside the allow-list, that has no signature, or that cannot predict on
    the sample's columns and types fails the task without retrying, so nothing downstream
    promotes it. The model loads and predicts in a child process: one that crashes it or
    does not answer within ``time_limit`` fails the task the same way. The outcome and the
    SHA-256 of the checked files are tagged on the version (``smoke_check``); scoring and
    export later refuse files that differ.

    :param model_name: registered model name.
    :param version: the version to check. (templated)
    :param data_uri: CSV or Parquet file the sample is taken from (local path or
        object-storage URI). (templated)
    :param sample_rows: how many of its first rows to predict on.
    :param time_limit: seconds the model may take to load and predict.
    :param table: instead of ``data_uri``, a table (``schema.table``) on ``conn_id``: a
        seeded sample of ``sample_rows`` rows is drawn in the database. (templated)
    :param conn_id: the SQL connection of ``table``.
    :param key_column: integer column the sample is drawn by where ``TABLESAMPLE`` is not
        used.
    :param seed: the sample's seed.
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("version", "data_uri", "table")
    config_template_fields: Sequence[str] = ("data_uri", "table")
    operator_extra_links = (ModelVersionLink(),)

    def __init__(
        self,
        *,
        model_name: str,
        version: str,
        data_uri: str | None = None,
        sample_rows: int = 100,
        time_limit: float = 300.0,
        table: str | None = None,
        conn_id: str | None = None,
        key_column: str | None = None,
        seed: int = 0,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if (data_uri is None) == (table is None) or (table is not None and not conn_id):
            raise ConfigError(f"{self.task_id}: give data_uri, or table with conn_id")
        self.model_name = model_name
        self.version = version
        self.data_uri = data_uri
        self.sample_rows = sample_rows
        self.time_limit = time_limit
        self.table = table
        self.conn_id = conn_id
        self.key_column = key_column
        self.seed = seed
        self.mlflow_conn_id = mlflow_conn_id

    def _sample(self) -> tuple[pd.DataFrame, str]:
        """The rows to predict on and their name: a file, or a sample drawn in the database."""
        from airflow_mlops.core.io import read_table
        from airflow_mlops.core.sql_sources import SqlSource

        if self.data_uri is not None:
            return read_table(storage_path(self.data_uri), name=self.data_uri), self.data_uri
        source = SqlSource.on_connection(self.conn_id, table=self.table)
        sampled = source.read_sample(self.sample_rows, self.seed, self.key_column)
        return sampled.frame, source.name

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.smoke import smoke_check
        from airflow_mlops.core.sql_sources import SqlUnreachableError

        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        _push_links(context, hook, self.model_name, str(self.version))
        try:
            frame, name = self._sample()
            with hook.session():
                result = smoke_check(
                    frame, model_name=self.model_name, version=str(self.version),
                    sample_name=name, lineage=run_lineage(context),
                    sample_rows=self.sample_rows, time_limit=self.time_limit,
                )
        except SqlUnreachableError:
            raise  # the database may answer on a retry
        except MlopsError as exc:
            raise AirflowFailException(f"smoke check failed: {exc}") from None
        self.log.info("Smoke check of %s v%s passed on %d rows", self.model_name,
                      result["version"], result["rows"])
        return result


class BatchScoreOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Score a data set with the version an alias points at, and write the predictions.

    The output (CSV or Parquet, by its suffix) has the key columns, ``prediction``,
    ``probability`` for binary classifiers (``probability_<class>`` per class for
    multi-class ones), ``model_name``, ``model_version`` and ``scored_at``: the run's
    logical date (its ``run_after`` when it has none), never the wall clock. The input is
    only read, and an output at the input's location is refused. Skips when the alias is
    unset.

    :param model_name: registered model name.
    :param data_uri: CSV or Parquet file to score (local path or object-storage URI). (templated)
    :param output_uri: file the predictions are written to, e.g.
        ``s3://conn@bucket/predictions/ds={{ ds }}/part.parquet``; a re-run replaces it.
        (templated)
    :param key_columns: input columns copied beside each prediction, e.g. ``["customer_id"]``.
    :param alias: the alias whose version scores. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("data_uri", "output_uri", "alias")
    config_template_fields: Sequence[str] = ("data_uri", "output_uri")
    operator_extra_links = (ModelVersionLink(), OutputLink())

    def __init__(
        self,
        *,
        model_name: str,
        data_uri: str,
        output_uri: str,
        key_columns: Sequence[str],
        alias: str = "champion",
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.data_uri = data_uri
        self.output_uri = output_uri
        self.key_columns = key_columns
        self.alias = alias
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        import mlflow

        from airflow_mlops.core.scoring import score_batch

        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            with hook.session():
                result = score_batch(
                    mlflow.MlflowClient(),
                    model_name=self.model_name,
                    version=_alias_version(self.model_name, self.alias),
                    data=storage_path(self.data_uri),
                    output=storage_path(self.output_uri),
                    key_columns=list(self.key_columns),
                    scored_at=context.get("logical_date") or context["dag_run"].run_after,
                )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        _push_links(context, hook, self.model_name, result["version"], result["output_uri"])
        self.log.info("Scored %d rows of %s with %s v%s into %s", result["rows"], self.data_uri,
                      self.model_name, result["version"], result["output_uri"])
        self._outcome = result
        return result

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the scoring version and the data in, the predictions out."""
        from airflow_mlops.operators.openlineage import scoring_lineage

        return scoring_lineage(self)


class ExportModelOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Copy the version an alias points at to a serving folder (local or object storage).

    The folder then loads with ``mlflow.pyfunc.load_model``; its ``airflow_mlops_export.json``
    names the version and the SHA-256 of its files. Exporting the version already there
    changes nothing; a folder with other content is refused, never overwritten. Skips when
    the alias is unset.

    :param model_name: registered model name.
    :param target_uri: the serving folder, e.g. ``s3://conn@bucket/serving/churn``. (templated)
    :param alias: the alias whose version is exported. (templated)
    :param mlflow_conn_id: connection of the tracking server and registry.
    """

    template_fields: Sequence[str] = ("target_uri", "alias")
    config_template_fields: Sequence[str] = ("target_uri",)
    operator_extra_links = (ModelVersionLink(), OutputLink())

    def __init__(
        self,
        *,
        model_name: str,
        target_uri: str,
        alias: str = "champion",
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.target_uri = target_uri
        self.alias = alias
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict:
        import mlflow

        from airflow_mlops.core.export import export_version

        hook = MlflowHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            with hook.session():
                result = export_version(
                    mlflow.MlflowClient(),
                    model_name=self.model_name,
                    version=_alias_version(self.model_name, self.alias),
                    target=storage_path(self.target_uri),
                    lineage=run_lineage(context),
                )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        _push_links(context, hook, self.model_name, result["version"], result["target"])
        self.log.info("%s v%s at %s (changed: %s)", self.model_name, result["version"],
                      result["target"], result["changed"])
        return result


class ReloadEndpointOperator(ConfigTemplatedMixin, BaseOperator):
    """
    Ask a serving endpoint to reload its model, through an Airflow HTTP connection.

    Connection errors, timeouts and answers 408, 429 and 5xx are retried up to ``attempts``
    times in all, waiting ``retry_wait`` seconds, then twice as long each time (at most
    ``max_retry_wait``); when they persist the task fails and Airflow's own retries apply.
    Any other error answer (a wrong path, missing credentials) fails at once, without retrying.

    :param http_conn_id: HTTP connection with the endpoint's base URL and credentials.
    :param endpoint: path appended to the base URL, e.g. ``/admin/reload``. (templated)
    :param method: HTTP method.
    :param payload: JSON body, e.g. ``{"model": "churn", "version": "..."}``. (templated)
    :param headers: extra request headers. (templated)
    :param attempts: requests at most, the first one included.
    :param retry_wait: seconds before the second request.
    :param max_retry_wait: longest wait between requests, in seconds.
    :param timeout: seconds one request may take.
    """

    template_fields: Sequence[str] = ("endpoint", "payload", "headers")
    config_template_fields: Sequence[str] = ("endpoint",)

    def __init__(
        self,
        *,
        http_conn_id: str,
        endpoint: str,
        method: str = "POST",
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        attempts: int = 5,
        retry_wait: float = 2.0,
        max_retry_wait: float = 60.0,
        timeout: float = 30.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.method = method
        self.payload = payload
        self.headers = headers
        self.attempts = attempts
        self.retry_wait = retry_wait
        self.max_retry_wait = max_retry_wait
        self.timeout = timeout

    def execute(self, context: Context) -> dict:
        import tenacity
        from airflow.providers.http.hooks.http import HttpHook
        from requests import exceptions as http_errors

        hook = HttpHook(method=self.method, http_conn_id=self.http_conn_id)

        def log_retry(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            answer = (f"{outcome.result().status_code}" if not outcome.failed
                      else type(outcome.exception()).__name__)
            self.log.warning("Reload request %d of %d: %s; retrying in %.1f s",
                             state.attempt_number, self.attempts, answer,
                             state.next_action.sleep)

        unreachable = (http_errors.ConnectionError, http_errors.Timeout)
        try:
            response = hook.run_with_advanced_retry(
                {
                    "stop": tenacity.stop_after_attempt(self.attempts),
                    "wait": tenacity.wait_exponential(multiplier=self.retry_wait,
                                                      max=self.max_retry_wait),
                    "retry": tenacity.retry_if_exception_type(unreachable)
                    | tenacity.retry_if_result(lambda r: r.status_code in RETRYABLE_STATUS),
                    "retry_error_callback": lambda state: state.outcome.result(),
                    "before_sleep": log_retry,
                },
                endpoint=self.endpoint,
                json=self.payload,
                headers=self.headers,
                extra_options={"check_response": False, "timeout": self.timeout},
            )
        except unreachable as exc:
            raise AirflowException(
                f"reload failed after {self.attempts} requests: "
                f"{hook.url_from_endpoint(self.endpoint)}: {exc}"
            ) from None
        url = hook.url_from_endpoint(self.endpoint)
        answer = f"{url} answered {response.status_code} {response.reason}"
        if response.status_code in RETRYABLE_STATUS:
            raise AirflowException(f"reload failed after {self.attempts} requests: {answer}")
        if response.status_code >= 400:
            raise AirflowFailException(f"reload refused: {answer}: {response.text[:200]}")
        self.log.info("Reload requested: %s", answer)
        return {"url": url, "status": response.status_code}
