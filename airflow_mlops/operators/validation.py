"""ValidateDataOperator: the Great Expectations gate in front of training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from airflow.sdk import Context


class ValidateDataOperator(BaseOperator):
    """
    Validate a data set against a Great Expectations suite file.

    Pushes a small summary (counts and the failed expectations) as the return value;
    fails without retrying when the data breaks the suite or cannot be read.

    :param data_uri: CSV or Parquet file, local path or fsspec URI. (templated)
    :param suite: path of a GX 1.x ExpectationSuite JSON file. (templated)
    """

    template_fields: Sequence[str] = ("data_uri", "suite")

    def __init__(self, *, data_uri: str, suite: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_uri = data_uri
        self.suite = suite

    def execute(self, context: Context) -> dict:
        from airflow_mlops.core.io import read_table
        from airflow_mlops.core.validation import validate_frame

        try:
            summary, _ = validate_frame(
                read_table(self.data_uri), self.suite, data_name=self.data_uri
            )
        except MlopsError as exc:
            raise AirflowFailException(str(exc)) from None
        result = summary.to_dict()
        if not summary.success:
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowFailException(
                f"{self.data_uri}: {summary.failed} of {summary.evaluated} expectations in "
                f"{self.suite} failed: {summary.describe_failures()}. "
                "Details are in this task's XCom 'return_value'."
            )
        self.log.info("%s: %d rows passed %d expectations", self.data_uri, summary.rows,
                      summary.evaluated)
        return result
