"""OpenLineage datasets and facets of the pipeline's steps, from their results.

Datasets follow the OpenLineage naming: a local file is namespace ``file``, name its absolute
path; an object is ``<scheme>://<bucket>`` and its key (an Airflow connection id in the URI is
left out); a registered model version is ``mlflow://<tracking host>`` (``localhost`` for a
local store) and ``models/<name>/<version>``. Two custom run facets, ``airflowMlopsDecision``
and ``airflowMlopsDrift``, carry a JSON schema published in the repository
(:data:`SCHEMA_BASE_URL`). ``openlineage-python`` is imported inside the functions only.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import urlsplit

SCHEMA_BASE_URL = ("https://raw.githubusercontent.com/airflow-mlops/airflow-mlops/main/"
                   "docs/openlineage/")
DECISION_FACET, DRIFT_FACET = "airflowMlopsDecision", "airflowMlopsDrift"
LOCAL_SCHEMES = ("", "file", "local")


def schema_url(facet_class: str) -> str:
    """The published schema of one of our facets, with the JSON pointer to its definition."""
    return f"{SCHEMA_BASE_URL}{facet_class}.json#/$defs/{facet_class}"


def data_dataset_id(uri: str) -> tuple[str, str]:
    """Namespace and name of the data set at ``uri`` (local path or object-storage URI)."""
    parts = urlsplit(str(uri))
    if len(parts.scheme) <= 1 or parts.scheme in LOCAL_SCHEMES:  # "C:" is a drive, not a scheme
        path = parts.path if parts.scheme in ("file", "local") else str(uri)
        return "file", os.path.abspath(path)
    host = parts.netloc.rsplit("@", 1)[-1]  # s3://conn_id@bucket/key: the connection is ours
    return f"{parts.scheme}://{host}", parts.path.lstrip("/")


def model_namespace(tracking_uri: str) -> str:
    """``mlflow://<host[:port]>`` of a tracking server; ``mlflow://localhost`` for a local store."""
    parts = urlsplit(tracking_uri)
    host = parts.netloc.rsplit("@", 1)[-1] if parts.scheme in ("http", "https") else ""
    return f"mlflow://{host or 'localhost'}"


def model_version_name(model: str, version: str) -> str:
    """The dataset name of a registered model version."""
    return f"models/{model}/{version}"


def data_input(uri: str, *, validation: dict | None = None, rows: int | None = None) -> Any:
    """The data set as an input; with a validation, its assertions and row count."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as metrics

    namespace, name = data_dataset_id(uri)
    facets: dict[str, Any] = {}
    if validation is not None:
        facets["dataQualityAssertions"] = assertions_facet(validation)
        rows = validation["summary"].get("rows") if rows is None else rows
    if rows is not None:
        facets["dataQualityMetrics"] = metrics.DataQualityMetricsInputDatasetFacet(
            rowCount=rows, columnMetrics={})
    return InputDataset(namespace=namespace, name=name, inputFacets=facets)


def data_output(uri: str, rows: int | None = None) -> Any:
    """The data set as an output, with its row count when known."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as statistics

    namespace, name = data_dataset_id(uri)
    facets = {} if rows is None else {
        "outputStatistics": statistics.OutputStatisticsOutputDatasetFacet(rowCount=rows)}
    return OutputDataset(namespace=namespace, name=name, outputFacets=facets)


def model_version(tracking_uri: str, model: str, version: str, *, output: bool = False) -> Any:
    """A registered model version as an input or output dataset."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    kind = OutputDataset if output else InputDataset
    return kind(namespace=model_namespace(tracking_uri), name=model_version_name(model, version))


def assertions_facet(validation: dict) -> Any:
    """``DataQualityAssertionsDatasetFacet`` of a validation: one assertion per expectation.

    ``validation`` holds the ``summary`` (:class:`ValidationSummary` as a dict) and the GX
    ``result`` when the data could be validated; without a result, the failures of the
    summary are the assertions.
    """
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as quality

    results = (validation.get("result") or {}).get("results")
    if results is None:
        return quality.DataQualityAssertionsDatasetFacet(assertions=[
            quality.Assertion(assertion=f["expectation"], success=False, column=f.get("column"))
            for f in validation["summary"].get("failures", [])
        ])
    return quality.DataQualityAssertionsDatasetFacet(assertions=[
        quality.Assertion(assertion=r["expectation_config"]["type"], success=bool(r["success"]),
                          column=r["expectation_config"].get("kwargs", {}).get("column"))
        for r in results
    ])


def decision_facet(action: str, decision: dict, outcome: dict | None = None) -> dict[str, Any]:
    """``{"airflowMlopsDecision": facet}``: the evaluation's verdict and what the step did."""
    facet = _facet_classes()["AirflowMlopsDecisionRunFacet"](
        action=action,
        model=decision.get("model"),
        challengerVersion=str(decision.get("challenger_version")),
        championVersion=_text(decision.get("champion_version")),
        verdict=decision.get("verdict"),
        reasons=list(decision.get("reasons") or []),
        primaryMetric=decision.get("primary_metric"),
        challengerMetrics=dict(decision.get("challenger_metrics") or {}),
        championMetrics=dict(decision.get("champion_metrics") or {}),
        dryRun=bool(decision.get("dry_run", False)),
        championAfter=_text((outcome or {}).get("champion")),
    )
    return {DECISION_FACET: facet}


def drift_facet(summary: dict) -> dict[str, Any]:
    """``{"airflowMlopsDrift": facet}``: the window's verdict and per-column drift scores."""
    facet = _facet_classes()["AirflowMlopsDriftRunFacet"](
        model=summary.get("model"),
        championVersion=_text(summary.get("champion_version")),
        drifted=summary.get("drifted"),
        share=summary.get("share"),
        driftShare=summary.get("drift_share"),
        columns={name: {"method": column.get("method"), "score": column.get("score"),
                        "drifted": column.get("drifted")}
                 for name, column in (summary.get("per_column") or {}).items()},
    )
    return {DRIFT_FACET: facet}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@functools.cache
def _facet_classes() -> dict[str, type]:
    """Our custom run facets, defined on first use (openlineage-python is optional)."""
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class AirflowMlopsDecisionRunFacet(RunFacet):
        """The champion/challenger decision and what this step did with it."""

        action: str
        model: str | None
        challengerVersion: str  # noqa: N815 (OpenLineage fields are camelCase)
        championVersion: str | None  # noqa: N815
        verdict: str | None
        reasons: list[str]
        primaryMetric: str | None  # noqa: N815
        challengerMetrics: dict[str, float]  # noqa: N815
        championMetrics: dict[str, float]  # noqa: N815
        dryRun: bool  # noqa: N815
        championAfter: str | None  # noqa: N815

        @staticmethod
        def _get_schema() -> str:
            return schema_url("AirflowMlopsDecisionRunFacet")

    @attr.define
    class AirflowMlopsDriftRunFacet(RunFacet):
        """The drift verdict of a monitoring window and each column's drift score."""

        model: str | None
        championVersion: str | None  # noqa: N815
        drifted: bool | None
        share: float | None
        driftShare: float | None  # noqa: N815
        columns: dict[str, dict[str, Any]]

        @staticmethod
        def _get_schema() -> str:
            return schema_url("AirflowMlopsDriftRunFacet")

    return {cls.__name__: cls for cls in (AirflowMlopsDecisionRunFacet, AirflowMlopsDriftRunFacet)}
