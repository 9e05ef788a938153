"""The OpenLineage of each operator, for its ``get_openlineage_facets_on_complete``.

Called by the Airflow OpenLineage provider's listener after a task ran (on success and, for
lack of an ``on_failure`` method, on failure too), with the operator whose ``execute`` kept
its result in ``_outcome``. Imported only from inside those methods: nothing here is loaded
when a DAG is parsed, and without the provider installed the operators run unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_mlops.core import lineage_facets as facets
from airflow_mlops.hooks.mlflow import MlflowHook

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator


def _outcome(operator: BaseOperator) -> dict | None:
    return getattr(operator, "_outcome", None)


def _tracking_uri(operator: BaseOperator) -> str:
    return MlflowHook(mlflow_conn_id=operator.mlflow_conn_id).get_target().tracking_uri


def validation_lineage(operator: BaseOperator) -> OperatorLineage:
    """The validated data as input, with one assertion per expectation and its row count."""
    validation = _outcome(operator)
    if operator.data_uri is None:  # a query result has no dataset of its own here
        return OperatorLineage()
    return OperatorLineage(inputs=[facets.data_input(operator.data_uri, validation=validation)])


def training_lineage(operator: BaseOperator) -> OperatorLineage:
    """The training data in; the registered model version out."""
    result = _outcome(operator)
    outputs = [] if result is None else [facets.model_version(
        _tracking_uri(operator), operator.model_name, result["version"], output=True)]
    return OperatorLineage(inputs=[facets.data_input(operator.data_uri)], outputs=outputs)


def decision_lineage(operator: BaseOperator, action: str) -> OperatorLineage:
    """The compared versions (and, for the evaluation, the data) in; the decision as a facet."""
    outcome = _outcome(operator)
    decision = operator.decision if action != "evaluate" else outcome
    if not isinstance(decision, dict):
        return OperatorLineage()
    uri = _tracking_uri(operator)
    versions = [decision["challenger_version"], decision.get("champion_version")]
    inputs = [facets.model_version(uri, operator.model_name, str(v)) for v in versions if v]
    if action == "evaluate":
        inputs.append(facets.data_input(operator.data_uri))
    return OperatorLineage(inputs=inputs, run_facets=facets.decision_facet(
        action, decision, outcome if action != "evaluate" else None))


def scoring_lineage(operator: BaseOperator) -> OperatorLineage:
    """The scoring version and the data in; the predictions out."""
    result = _outcome(operator)
    if result is None:
        return OperatorLineage()
    version = facets.model_version(_tracking_uri(operator), operator.model_name,
                                   str(result["version"]))
    return OperatorLineage(
        inputs=[version, facets.data_input(operator.data_uri)],
        outputs=[facets.data_output(result["output_uri"], result["rows"])],
    )


def drift_lineage(operator: BaseOperator) -> OperatorLineage:
    """Both windows in (the champion's training data and this one); drift scores as a facet."""
    summary: dict[str, Any] | None = _outcome(operator)
    if summary is None:
        return OperatorLineage()
    inputs = [facets.data_input(summary[key]) for key in ("reference", "current")
              if summary.get(key)]
    return OperatorLineage(inputs=inputs, run_facets=facets.drift_facet(summary))
