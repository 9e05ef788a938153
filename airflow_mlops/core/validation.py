"""Great Expectations validation of a data frame against a suite file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import SuiteError

if TYPE_CHECKING:
    import pandas as pd

MAX_EXAMPLES = 5
MAX_REPORTED_FAILURES = 20


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation the data did not meet."""

    expectation: str
    column: str | None
    observed_value: Any = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationSummary:
    """A small, JSON-ready account of a validation run."""

    data: str
    suite: str
    success: bool
    rows: int
    evaluated: int
    failed: int
    failures: list[FailedExpectation]

    def to_dict(self) -> dict:
        """The summary as plain JSON types."""
        return asdict(self)

    def describe_failures(self) -> str:
        """One line per failed expectation, for error messages and logs."""
        return "; ".join(
            f"{f.expectation}({f.column or 'table'}): observed {f.observed_value!r}"
            for f in self.failures
        )


def load_suite(path: str | Path) -> dict:
    """Read a GX 1.x ExpectationSuite JSON file, checking its shape."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"{path}: expectation suite not found") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise SuiteError(f"{path}: expected an object with an 'expectations' list")
    if not suite["expectations"]:
        raise SuiteError(f"{path}: suite has no expectations; it would accept any data")
    for index, expectation in enumerate(suite["expectations"]):
        if not isinstance(expectation, dict) or "type" not in expectation:
            raise SuiteError(f"{path}: expectations[{index}] has no 'type'")
    suite.setdefault("name", path.stem)
    return suite


def _build_suite(suite: dict, path: Path):
    import great_expectations as gx
    from great_expectations.exceptions import InvalidExpectationConfigurationError

    try:
        return gx.ExpectationSuite(
            name=suite["name"], expectations=suite["expectations"], meta=suite.get("meta", {})
        )
    except (InvalidExpectationConfigurationError, KeyError, TypeError, ValueError) as exc:
        raise SuiteError(f"{path}: invalid expectation: {exc}") from None
    except Exception as exc:  # GX raises its own types for unknown expectation names
        if type(exc).__name__ == "ExpectationNotFoundError":
            raise SuiteError(f"{path}: {exc}") from None
        raise


def _failure(result: dict) -> FailedExpectation:
    config = result["expectation_config"]
    details = result.get("result") or {}
    examples = details.get("partial_unexpected_list") or []
    if result.get("exception_info", {}).get("raised_exception"):
        observed = result["exception_info"].get("exception_message")
    else:
        observed = details.get("observed_value")
    return FailedExpectation(
        expectation=config["type"],
        column=config["kwargs"].get("column"),
        observed_value=observed,
        unexpected_percent=details.get("unexpected_percent"),
        examples=examples[:MAX_EXAMPLES],
    )


def validate_frame(
    frame: pd.DataFrame, suite_path: str | Path, *, data_name: str
) -> tuple[ValidationSummary, dict]:
    """Validate ``frame`` against the suite file in an ephemeral GX context.

    :return: the small summary and GX's full result as JSON.
    """
    import great_expectations as gx

    suite_path = Path(suite_path)
    suite = load_suite(suite_path)
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("airflow_mlops")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
    )
    definition = gx.ValidationDefinition(
        data=batch,
        suite=context.suites.add(_build_suite(suite, suite_path)),
        name=f"validate:{suite['name']}",
    )
    result = context.validation_definitions.add(definition).run(
        batch_parameters={"dataframe": frame}, result_format="SUMMARY"
    )
    full = json.loads(json.dumps(result.to_json_dict(), default=str))
    failures = [_failure(r) for r in full["results"] if not r["success"]]
    summary = ValidationSummary(
        data=data_name,
        suite=str(suite_path),
        success=bool(result.success),
        rows=len(frame),
        evaluated=len(full["results"]),
        failed=len(failures),
        failures=failures[:MAX_REPORTED_FAILURES],
    )
    return summary, full
