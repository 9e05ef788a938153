"""Great Expectations validation of a data frame against an expectation suite.

Suites are GX 1.x ExpectationSuite JSON files (or, for teams that keep a GX project, suites
stored in it). Validation always runs in an ephemeral GX context, one per call, so parallel
tasks never write to a shared project.

Speed: one GX validator serves every pass, so GX fetches (and fingerprints) the frame once.
Row-level (map) expectations are first evaluated with ``BOOLEAN_ONLY`` (pass/fail, the
cheapest result format); only those that failed are evaluated again with ``SUMMARY`` for
example unexpected values. The others (table and column aggregates) compute the same metrics
whatever the format, so they are evaluated with ``SUMMARY`` (their observed values) at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core.errors import DataError, SuiteError
from airflow_mlops.core.io import short

if TYPE_CHECKING:
    import pandas as pd

MAX_EXAMPLES = 5
MAX_SUMMARY_BYTES = 4096
MAX_TEXT = 120
MAX_REASON = 300
MAX_DESCRIBED = 10
# Per GX result in the full JSON result: longer strings and lists or objects are cut.
MAX_RESULT_TEXT = 1000
MAX_RESULT_ITEMS = 20
DETAIL_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
TWO_PASS_FORMAT = "SUMMARY; BOOLEAN_ONLY for passing row-level expectations"
EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes", "description", "severity", "id",
                    "rendered_content"}
POSITION = "airflow_mlops_position"
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")
TABLE_COLUMN_TYPES = {"expect_table_columns_to_match_ordered_list": "column_list",
                      "expect_table_columns_to_match_set": "column_set"}


@dataclass(frozen=True)
class Suite:
    """An expectation suite read from a file or a GX project, shape-checked.

    :param name: the suite's name.
    :param source: where it came from, for messages.
    :param expectations: GX expectation configurations (``type``, ``kwargs``, ...).
    """

    name: str
    source: str
    expectations: list[dict]


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation the data did not meet.

    :param expectation: the expectation type.
    :param column: the column(s) it is about; None for table-level expectations.
    :param reason: one readable sentence on what was wrong.
    """

    expectation: str
    column: str | None
    reason: str
    observed_value: Any = None
    unexpected_percent: float | None = None
    examples: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        """``column: expectation: reason``, for error messages and logs."""
        return f"{self.column or 'table'}: {self.expectation}: {self.reason}"


@dataclass(frozen=True)
class ValidationSummary:
    """A small, JSON-ready account of a validation run (at most 4 KB as JSON).

    :param error: why the data could not be validated at all (unreadable, no rows).
    :param report: where the full result and the HTML report are.
    :param quarantined_to: where a copy of the failing batch was put.
    """

    data: str
    suite: str
    success: bool
    rows: int
    evaluated: int
    failed: int
    failures: list[FailedExpectation]
    error: str | None = None
    report: str | None = None
    quarantined_to: str | None = None

    @classmethod
    def unusable(cls, data: str, suite: str, error: str) -> ValidationSummary:
        """The summary for data that could not be read or has no rows."""
        return cls(data=data, suite=suite, success=False, rows=0, evaluated=0, failed=0,
                   failures=[], error=error)

    def to_dict(self) -> dict:
        """The summary as plain JSON types, trimmed to at most 4 KB.

        When the failures do not fit, the last ones are left out and ``omitted_failures``
        says how many; ``failed`` always counts all of them.
        """
        data = jsonable(asdict(self))
        data["omitted_failures"] = 0
        while len(json.dumps(data)) > MAX_SUMMARY_BYTES and data["failures"]:
            data["failures"].pop()
            data["omitted_failures"] += 1
        return data

    def describe_failures(self) -> str:
        """What went wrong, in one line naming up to 10 failed expectations."""
        if self.error:
            return self.error
        described = "; ".join(f.describe() for f in self.failures[:MAX_DESCRIBED])
        more = self.failed - min(len(self.failures), MAX_DESCRIBED)
        return described + (f"; and {more} more" if more else "")

    def headline(self) -> str:
        """One sentence: the data set, the suite and the outcome."""
        if self.error:
            return f"{self.data} could not be validated against suite {self.suite}"
        if self.success:
            return (f"{self.data}: {self.rows} rows passed all {self.evaluated} expectations "
                    f"of suite {self.suite}")
        return (f"{self.data} failed {self.failed} of {self.evaluated} expectations "
                f"of suite {self.suite}")

    def failure_message(self) -> str:
        """The data set, what failed, and where the full report is."""
        message = f"{self.headline()}: {self.describe_failures()}"
        if self.quarantined_to:
            message += f". A copy of the data is in {self.quarantined_to}"
        return message + (f". Full report: {self.report}" if self.report else "")


@dataclass(frozen=True)
class Validation:
    """The outcome of :func:`validate_frame`: the small summary and GX's full result."""

    summary: ValidationSummary
    result: dict

    @classmethod
    def unusable(cls, data: str, suite: str, error: str) -> Validation:
        """The outcome for data that could not be read or has no rows."""
        result = {"success": False, "error": error, "data": data, "suite": suite,
                  "results": []}
        return cls(ValidationSummary.unusable(data, suite, error), result)


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON types: numpy scalars unboxed, NaN and infinities as strings."""
    text = json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    return json.loads(text, parse_constant=str)


def _clip(value: Any, limit: int = MAX_TEXT) -> Any:
    """``value`` as JSON, with long strings and long lists or objects cut to ``limit``."""
    value = jsonable(value)
    if isinstance(value, (dict, list)) and len(json.dumps(value)) > limit:
        value = json.dumps(value)
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 3] + "..."
    return value


def bounded(value: Any, text: int = MAX_RESULT_TEXT, items: int = MAX_RESULT_ITEMS) -> Any:
    """``value`` (JSON types) with strings cut to ``text`` characters and lists and objects
    to ``items`` entries, each cut saying how much it left out."""
    if isinstance(value, str):
        return value if len(value) <= text else f"{value[:text]}... ({len(value)} characters)"
    if isinstance(value, list):
        kept = [bounded(item, text, items) for item in value[:items]]
        return kept + ([f"... and {len(value) - items} more"] if len(value) > items else [])
    if isinstance(value, dict):
        kept = {bounded(str(key), text, items): bounded(item, text, items)
                for key, item in list(value.items())[:items]}
        if len(value) > items:
            kept["..."] = f"and {len(value) - items} more entries"
        return kept
    return value


def _bounded_result(result: dict) -> dict:
    """A GX result with what it holds of the data (observed and example values, partial
    lists, error messages) cut by :func:`bounded`; the expectation itself stays whole."""
    return {key: value if key == "expectation_config" else bounded(value)
            for key, value in result.items()}


# --- suites ------------------------------------------------------------------------------


def _parse_suite(raw: Any, source: str, default_name: str) -> Suite:
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise SuiteError(f"{source}: expected a JSON object with an 'expectations' list")
    if not raw["expectations"]:
        raise SuiteError(f"{source}: suite has no expectations; it would accept any data")
    for index, expectation in enumerate(raw["expectations"]):
        where = f"{source}: expectations[{index}]"
        if not isinstance(expectation, dict) or not isinstance(expectation.get("type"), str):
            raise SuiteError(f"{where}: needs a 'type' naming the expectation")
        unknown = sorted(set(expectation) - EXPECTATION_KEYS)
        if unknown:
            raise SuiteError(f"{where} ({expectation['type']}): unknown key(s) {unknown}")
        if not isinstance(expectation.get("kwargs", {}), dict):
            raise SuiteError(f"{where} ({expectation['type']}): 'kwargs' must be an object")
    return Suite(name=str(raw.get("name") or default_name), source=source,
                 expectations=raw["expectations"])


def load_suite(path: str | Path) -> Suite:
    """Read a GX 1.x ExpectationSuite JSON file, checking its shape."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"{path}: expectation suite not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: expectation suite cannot be read: {short(exc)}") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return _parse_suite(raw, str(path), path.stem)


def load_stored_suite(context_root_dir: str | Path, name: str) -> Suite:
    """Read suite ``name`` from the GX project (file context) at ``context_root_dir``.

    :param context_root_dir: the folder holding ``great_expectations.yml``.
    """
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError, GreatExpectationsError

    root = Path(context_root_dir)
    if not (root / "great_expectations.yml").is_file():
        raise SuiteError(f"{root}: not a GX project (no great_expectations.yml)")
    try:
        context = gx.get_context(mode="file", context_root_dir=str(root))
    except GreatExpectationsError as exc:
        raise SuiteError(f"{root}: the GX project cannot be opened: {short(exc)}") from None
    try:
        stored = context.suites.get(name)
    except DataContextError:
        raise SuiteError(f"{root}: the GX project has no suite named {name!r}") from None
    return _parse_suite(jsonable(stored.to_json_dict()), f"{root}:{name}", name)


def resolve_suite(suite: str | Path, context_root_dir: str | Path | None = None) -> Suite:
    """A suite file, or, given a GX project, the name of a suite stored in it."""
    path = Path(suite)
    if context_root_dir is None or path.suffix == ".json" or path.exists():
        return load_suite(path)
    return load_stored_suite(context_root_dir, str(suite))


def _pydantic_problems(exc: Exception) -> str:
    problems: dict[str, str] = {}
    for error in exc.errors():  # first message per field: GX tries several types per field
        where = ".".join(str(part) for part in error["loc"] if part != "__root__") or "kwargs"
        problems.setdefault(where, error["msg"])
    return "; ".join(f"{where}: {message}" for where, message in problems.items())


def build_expectations(suite: Suite) -> list:
    """GX Expectation objects for the suite, with an error naming the bad rule if any.

    Each carries its position in the suite in its meta (:data:`POSITION`), which GX copies
    into its result: results come back in another order, and kwargs are normalized.
    """
    from great_expectations.exceptions import (
        ExpectationNotFoundError,
        InvalidExpectationConfigurationError,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for index, expectation in enumerate(suite.expectations):
        kind = expectation["type"]
        where = f"{suite.source}: expectations[{index}] ({kind})"
        config = {k: v for k, v in expectation.items() if k not in {"id", "rendered_content"}}
        config["kwargs"] = config.get("kwargs", {})
        config["meta"] = {**(config.get("meta") or {}), POSITION: index}
        try:
            built.append(ExpectationConfiguration(**config).to_domain_obj())
        except ExpectationNotFoundError:
            raise SuiteError(f"{where}: unknown expectation type {kind!r}") from None
        except InvalidExpectationConfigurationError as exc:
            raise SuiteError(f"{where}: {short(exc)}") from None
        except (TypeError, ValueError) as exc:
            problems = _pydantic_problems(exc) if hasattr(exc, "errors") else short(exc)
            raise SuiteError(f"{where}: {problems}") from None
    return built


# --- running -----------------------------------------------------------------------------


def _validator(frame: pd.DataFrame):
    """One GX validator for every pass over ``frame``.

    GX fetches a batch, and fingerprints the whole frame, once per validator; a validator per
    pass (``Batch.validate``) would do that again for each pass.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.validator.v1_validator import Validator

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    whole = (context.data_sources.add_pandas("airflow_mlops").add_dataframe_asset("batch")
             .add_batch_definition_whole_dataframe("whole"))
    return Validator(batch_definition=whole, batch_parameters={"dataframe": frame})


def _run(validator, name: str, expectations: list, result_format, data_name: str) -> dict:
    import great_expectations as gx
    from great_expectations.exceptions import GreatExpectationsError

    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    validator.result_format = result_format
    try:
        result = validator.validate_expectation_suite(suite)
    except (GreatExpectationsError, TypeError, ValueError) as exc:
        raise DataError(f"{data_name}: Great Expectations cannot validate it: {short(exc)}") \
            from None
    return {r["expectation_config"]["meta"].pop(POSITION): r
            for r in jsonable(result.to_json_dict())["results"]}


@contextmanager
def _gx_settings() -> Iterator[None]:
    """Quiet GX logs and pandas copy-on-write while GX runs.

    GX logs several INFO lines per expectation; its column metrics select the rows where the
    column is not null (``df[df[column].notnull()]``), which, when no value is null, pandas
    answers with a deep copy of the whole frame unless copy-on-write is on.
    """
    import pandas as pd

    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        with pd.option_context("mode.copy_on_write", True):
            yield
    finally:
        logger.setLevel(level)


def _is_row_level(expectation) -> bool:
    """Whether the expectation checks each row (map): only those cost more with SUMMARY.

    SUMMARY makes a map expectation also compute its unexpected values and their counts; any
    other expectation computes the same metrics whatever the result format.
    """
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return isinstance(expectation,
                      (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))


def _evaluate(frame: pd.DataFrame | None, suite: Suite, data_name: str,
              validator=None) -> list[dict]:
    """Results in suite order, SUMMARY for failed expectations, from one GX validator.

    Row-level expectations are evaluated with BOOLEAN_ONLY, then with SUMMARY only where they
    failed; the others are evaluated with SUMMARY at once (it costs them nothing more).
    ``validator`` (one on a SQL data source, say) replaces the one on ``frame``.
    """
    with _gx_settings():
        expectations = build_expectations(suite)
        validator = validator or _validator(frame)
        row_level = [e for e in expectations if _is_row_level(e)]
        others = [e for e in expectations if not _is_row_level(e)]
        results = {}
        for group, result_format in ((row_level, "BOOLEAN_ONLY"), (others, DETAIL_FORMAT)):
            if group:
                results.update(_run(validator, suite.name, group, result_format, data_name))
        failed = [e for e in row_level if not results[e.meta[POSITION]]["success"]]
        if failed:
            results.update(_run(validator, suite.name, failed, DETAIL_FORMAT, data_name))
    return [results[i] for i in range(len(expectations))]


def evaluate_in_one_pass(validator, suite: Suite, data_name: str) -> list[dict]:
    """Results in suite order, every expectation evaluated once with SUMMARY.

    For a validator whose every pass is a round of queries over the rows (a SQL data
    source), one pass costs less than a cheap pass plus a detail pass for what failed.
    """
    with _gx_settings():
        expectations = build_expectations(suite)
        results = _run(validator, suite.name, expectations, DETAIL_FORMAT, data_name)
    return [results[i] for i in range(len(expectations))]


# --- explaining failures -----------------------------------------------------------------


def _columns(config: dict) -> list[str]:
    """The columns an expectation is about; none for the table-level ones."""
    if config["type"] in TABLE_COLUMN_TYPES:
        return []
    named = []
    for key in COLUMN_KWARGS:
        value = config["kwargs"].get(key)
        if isinstance(value, str):
            named.append(value)
        elif isinstance(value, list):
            named.extend(map(str, value))
    return named


def _exception_message(result: dict) -> str | None:
    info = result.get("exception_info") or {}
    if info.get("raised_exception"):
        return info.get("exception_message") or "unknown error"
    for value in info.values():  # GX 1.x keys errors by the metric that raised them
        if isinstance(value, dict) and value.get("exception_message"):
            return value["exception_message"]
    return None


def _non_numeric(frame: pd.DataFrame, column: str) -> tuple[list, float] | None:
    import pandas as pd
    from pandas.api.types import is_numeric_dtype

    values = frame[column].dropna()
    if is_numeric_dtype(values):
        return None
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    if bad.empty:
        return None
    return bad.drop_duplicates().head(MAX_EXAMPLES).tolist(), 100.0 * len(bad) / len(frame)


def _explain_exception(frame: pd.DataFrame, config: dict, message: str) -> FailedExpectation:
    kwargs = config["kwargs"]
    columns = _columns(config)
    column = ", ".join(columns) or None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns))
        reason = f"column {', '.join(map(repr, missing))} is not in the data (columns: {have})"
        return FailedExpectation(config["type"], column, _clip(reason, MAX_REASON))
    numeric_bounds = any(isinstance(kwargs.get(k), (int, float)) for k in ("min_value",
                                                                           "max_value"))
    if numeric_bounds and len(columns) == 1 and (found := _non_numeric(frame, columns[0])):
        examples, percent = found
        return FailedExpectation(
            config["type"], column, f"column {columns[0]!r} holds non-numeric values",
            unexpected_percent=round(percent, 4), examples=[_clip(v) for v in examples],
        )
    last_line = (message.strip().splitlines() or ["unknown error"])[-1]
    return FailedExpectation(config["type"], column,
                             _clip(f"could not be evaluated: {last_line}", MAX_REASON))


def _table_columns_reason(frame: pd.DataFrame, config: dict) -> str:
    expected = [str(c) for c in config["kwargs"].get(TABLE_COLUMN_TYPES[config["type"]]) or []]
    actual = [str(c) for c in frame.columns]
    parts = []
    if missing := [c for c in expected if c not in actual]:
        parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
    if extra := [c for c in actual if c not in expected]:
        parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
    return "; ".join(parts) or f"columns are in another order: {', '.join(actual)}"


def _expected(kwargs: dict) -> str:
    rule = {k: v for k, v in kwargs.items() if k not in (*COLUMN_KWARGS, "batch_id")}
    return ", ".join(f"{k}={_clip(v)!r}" for k, v in rule.items())


def _failure(frame: pd.DataFrame, result: dict) -> FailedExpectation:
    config = result["expectation_config"]
    message = _exception_message(result)
    if message is not None:
        return _explain_exception(frame, config, message)
    details = result.get("result") or {}
    observed = details.get("observed_value")
    examples = list(dict.fromkeys(json.dumps(v) for v in
                                  details.get("partial_unexpected_list") or []))
    percent = details.get("unexpected_percent")
    if config["type"] in TABLE_COLUMN_TYPES:
        reason = _table_columns_reason(frame, config)
    elif "unexpected_count" in details:
        rule = _expected(config["kwargs"])
        reason = (f"{details['unexpected_count']} of {details.get('element_count')} values "
                  f"are unexpected" + (f" (rule: {rule})" if rule else ""))
    else:
        reason = f"observed {_clip(observed)!r}, expected {_expected(config['kwargs'])}"
    return FailedExpectation(
        expectation=config["type"],
        column=", ".join(_columns(config)) or None,
        reason=_clip(reason, MAX_REASON),
        observed_value=_clip(observed),
        unexpected_percent=None if percent is None else round(percent, 4),
        examples=[_clip(json.loads(v)) for v in examples[:MAX_EXAMPLES]],
    )


def check_data(load: Callable[[], pd.DataFrame], suite: Suite, *, data_name: str
               ) -> tuple[Validation, pd.DataFrame | None]:
    """Load the data with ``load`` and validate it; unusable data is a failed validation.

    :return: the validation and the loaded frame (None when the data could not be loaded).
    :raises SuiteError: the suite is malformed or names an unknown expectation.
    """
    frame = None
    try:
        frame = load()
        return validate_frame(frame, suite, data_name=data_name), frame
    except DataError as exc:
        return Validation.unusable(data_name, suite.source, str(exc)), frame


def validate_frame(frame: pd.DataFrame, suite: Suite | str | Path, *, data_name: str
                   ) -> Validation:
    """Validate ``frame`` against ``suite`` (a :class:`Suite` or a suite file).

    The full result holds GX's results with what they quote of the data cut by
    :func:`bounded`, so its size is bounded by the suite's, whatever the data holds.

    :param data_name: how messages and reports name the data set.
    :raises SuiteError: the suite is malformed or names an unknown expectation.
    :raises DataError: GX cannot evaluate the data at all.
    """
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    results = _evaluate(frame, suite, data_name)
    return validation_of(results, suite, frame, data_name=data_name, rows=len(frame.index))


def validation_of(results: list[dict], suite: Suite, frame: pd.DataFrame, *, data_name: str,
                  rows: int, result_format: str = TWO_PASS_FORMAT) -> Validation:
    """The validation made of GX ``results`` (suite order) on ``rows`` rows.

    :param frame: the data, or (for data validated elsewhere) an empty frame with its
        columns: failures are explained from it.
    """
    results = [_bounded_result(r) for r in results]
    failures = [_failure(frame, r) for r in results if not r["success"]]
    statistics = {
        "evaluated_expectations": len(results),
        "successful_expectations": len(results) - len(failures),
        "unsuccessful_expectations": len(failures),
    }
    summary = ValidationSummary(
        data=data_name, suite=suite.source, success=not failures, rows=rows,
        evaluated=len(results), failed=len(failures), failures=failures,
    )
    result = {
        "success": not failures,
        "suite_name": suite.name,
        "data": data_name,
        "suite": suite.source,
        "result_format": result_format,
        "statistics": statistics,
        "results": results,
    }
    return Validation(summary=summary, result=result)
