"""Model configs: the typed YAML a data scientist writes for one model."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

import airflow_mlops
from airflow_mlops.core import config_cache
from airflow_mlops.core.drift import DRIFT_METHODS
from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.imports import IMPORT_PREFIXES_ENV
from airflow_mlops.core.metrics import TASK_METRICS, CustomMetric, greater_is_better
from airflow_mlops.core.templating import MAX_TEMPLATE_CHARS, template_problem

# libyaml's loader where PyYAML was built with it: parsing 1,000 configs stays fast.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
# Segments joined by "/" or ".": no "..", no empty segment, no leading or trailing separator.
EXPERIMENT_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*([./][A-Za-z0-9_-]+)*$"
IMPORT_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

MAX_BYTES_ENV = "AIRFLOW_MLOPS_CONFIG_MAX_BYTES"
DEFAULT_MAX_BYTES = 256 * 1024
MAX_DEPTH = 32  # nesting of mappings and lists; deeper YAML would exhaust the parser's stack
ALIAS_BUDGET = 1_000  # YAML nodes that aliases may add to a config, all aliases together
ENV_ALLOW_ENV = "AIRFLOW_MLOPS_CONFIG_ENV_ALLOW"
ENV_PREFIX = "AIRFLOW_MLOPS_"
_ENV_REFERENCE = re.compile(r"\$(\w+|\{[^}]*\})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstimatorSpec(_Strict):
    """A scikit-learn estimator by import path, or a pipeline of such steps.

    A mapping in ``params`` with a ``class`` (or ``steps``) key is itself an estimator spec
    (e.g. the ``estimator`` of a ``BaggingClassifier``), also inside a list; it is checked
    here and built like any other step.
    """

    class_path: str | None = Field(default=None, alias="class")
    params: dict[str, Any] = Field(default_factory=dict)
    steps: list[EstimatorSpec] | None = None

    @field_validator("steps")
    @classmethod
    def _steps_not_empty(cls, steps: list[EstimatorSpec] | None) -> list[EstimatorSpec] | None:
        if steps is not None and not steps:
            raise ValueError("a pipeline needs at least one step")
        return steps

    @field_validator("params")
    @classmethod
    def _nested_specs_valid(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name, value in params.items():
            _check_nested(value, (name,))
        return params

    @model_validator(mode="after")
    def _one_of_class_or_steps(self) -> EstimatorSpec:
        if (self.class_path is None) == (self.steps is None):
            raise ValueError("give exactly one of 'class' (an estimator) or 'steps' (a pipeline)")
        return self


def _check_nested(value: Any, location: tuple) -> None:
    """Refuse a nested estimator spec in params that does not fit the schema."""
    where = ".".join(map(str, location))
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_nested(item, (*location, index))
    elif isinstance(value, dict) and ("class" in value or "steps" in value):
        try:
            EstimatorSpec.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            inner = ".".join(map(str, (*location, *error["loc"])))
            raise ValueError(f"at '{inner}': "
                             f"{error['msg'].removeprefix('Value error, ')}") from None
    elif isinstance(value, dict) and "params" in value:
        raise ValueError(f"at '{where}': an estimator spec needs 'class' (or 'steps'); "
                         f"got keys {sorted(value)}")


class ColumnGroup(_Strict):
    """Columns prepared by their own steps (e.g. an imputer, then a scaler or an encoder)."""

    columns: list[str] = Field(min_length=1)
    steps: list[EstimatorSpec] = Field(min_length=1)


class ModelEstimatorSpec(EstimatorSpec):
    """The model's estimator and how its feature columns are prepared for it.

    ``preprocess`` names column groups, each with its steps (a ColumnTransformer; columns in
    no group pass through unchanged). Without it, non-numeric columns (booleans included) are
    one-hot encoded (unknown values ignored) unless ``encode_categoricals`` is false.
    """

    preprocess: dict[str, ColumnGroup] | None = None
    encode_categoricals: bool = True

    @field_validator("preprocess")
    @classmethod
    def _groups_named(cls, groups: dict[str, ColumnGroup] | None) -> dict[str, ColumnGroup] | None:
        if groups is not None and not groups:
            raise ValueError("give at least one column group, or leave 'preprocess' out")
        for name in groups or {}:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"column group name '{name}': letters, digits and _ only")
        return groups


class CustomMetricSpec(_Strict):
    """A metric function by import path: ``function(y_true, y_pred) -> float``.

    With ``needs_proba`` it gets the positive class's probability (or the probability matrix)
    instead of predicted labels.
    """

    function: str
    greater_is_better: bool
    needs_proba: bool = False


class SliceCheck(_Strict):
    """No value of categorical ``column`` with at least ``min_rows`` held-out rows may lose more
    than ``max_regression`` of ``metric`` (the primary metric when unset)."""

    column: str
    metric: str | None = None
    min_rows: int = Field(default=30, ge=1)
    max_regression: float = Field(default=0.05, ge=0)


class BootstrapCheck(_Strict):
    """A seeded paired bootstrap of the primary metric's gain over the champion.

    The lower bound of its ``confidence`` interval must clear the required improvement.
    ``seed`` defaults to the model's seed.
    """

    resamples: int = Field(default=1000, ge=100)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int | None = None


class ApprovalPolicy(_Strict):
    """When a human decides: ``always``, or when only checks listed in ``escalate`` failed
    (instead of rejecting).

    An unanswered request is rejected after ``timeout_hours`` (never, when unset).
    """

    always: bool = False
    escalate: list[Literal["significance", "guardrails", "slices"]] = Field(
        default_factory=list
    )
    timeout_hours: float | None = Field(default=24.0, gt=0)


class PromotionPolicy(_Strict):
    """When a challenger may replace the champion (MLflow MetricThreshold semantics).

    ``greater_is_better`` defaults to the metric's own direction (lower is better for
    log_loss, rmse and mae); set explicitly, it must agree with it. ``guardrails`` maps a
    metric to the most it may regress. ``on_failure`` and ``dry_run`` are the shared failure
    policy of the evaluation gate (a rejected challenger is its failure); ``pool`` names an
    Airflow pool (create it with one slot) that serialises promotions of the model.
    """

    primary_metric: str = "roc_auc"
    greater_is_better: bool | None = None
    threshold: float | None = None
    min_absolute_change: float = Field(default=0.0, ge=0)
    min_relative_change: float = Field(default=0.0, ge=0)
    guardrails: dict[str, float] = Field(default_factory=dict)
    slices: SliceCheck | None = None
    bootstrap: BootstrapCheck | None = None
    custom_metrics: dict[str, CustomMetricSpec] = Field(default_factory=dict)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    pool: str | None = None
    on_failure: Literal["fail", "warn", "skip"] = "warn"
    dry_run: bool = False

    @field_validator("guardrails")
    @classmethod
    def _regressions_not_negative(cls, guardrails: dict[str, float]) -> dict[str, float]:
        negative = sorted(metric for metric, allowed in guardrails.items() if allowed < 0)
        if negative:
            raise ValueError(f"the allowed regression of {', '.join(negative)} is negative")
        return guardrails

    @field_validator("custom_metrics")
    @classmethod
    def _custom_names_are_new(cls, custom: dict[str, CustomMetricSpec]) -> dict:
        clashes = sorted(set(custom) & {m for names in TASK_METRICS.values() for m in names})
        if clashes:
            raise ValueError(f"{', '.join(clashes)} is a built-in metric; name it differently")
        return custom

    def custom(self) -> tuple[CustomMetric, ...]:
        """The custom metrics, as the scoring code takes them."""
        return tuple(CustomMetric(name, spec.function, spec.greater_is_better, spec.needs_proba)
                     for name, spec in self.custom_metrics.items())

    def direction(self, metric: str) -> bool:
        """Whether higher values of ``metric`` (built-in or custom) are better."""
        if metric in self.custom_metrics:
            return self.custom_metrics[metric].greater_is_better
        return greater_is_better(metric)

    def problems(self, task: str) -> list[tuple[str, str]]:
        """(field, message) for each metric the policy names that ``task`` cannot produce."""
        available = (*TASK_METRICS[task], *self.custom_metrics)
        named = [("primary_metric", self.primary_metric)]
        named += [(f"guardrails.{metric}", metric) for metric in self.guardrails]
        if self.slices and self.slices.metric:
            named.append(("slices.metric", self.slices.metric))
        found = [
            (field, f"'{metric}' is not a {task} metric; choose one of {', '.join(available)}")
            for field, metric in named if metric not in available
        ]
        direction, metric = self.greater_is_better, self.primary_metric
        if not found and direction is not None and direction != self.direction(metric):
            found.append(("greater_is_better", f"{direction} contradicts '{metric}', for which "
                          f"{'higher' if self.direction(metric) else 'lower'} is better"))
        return found


def _known_method(method: str | None) -> str | None:
    if method is not None and method not in DRIFT_METHODS:
        raise ValueError(
            f"unknown drift method '{method}'; choose one of {', '.join(DRIFT_METHODS)}"
        )
    return method


class ColumnDriftSpec(_Strict):
    """The drift test of one column: an Evidently method and its threshold."""

    method: str | None = None
    threshold: float | None = Field(default=None, gt=0)

    _method_known = field_validator("method")(_known_method)


class RetrainTrigger(_Strict):
    """When monitoring requests a retrain (hysteresis against retrain storms).

    A window requests one when it drifted (or decayed), at least ``min_drifted`` of the last
    ``windows`` windows checked against the current champion did too, and no request was
    made within ``cooldown_windows`` windows of the monitor's schedule of it (1: the next
    window cannot request again; a month for a ``@monthly`` monitor). ``cooldown_hours``
    sets the cooldown in hours instead (configs written before windows).
    """

    windows: int = Field(default=3, ge=1)
    min_drifted: int = Field(default=2, ge=1)
    cooldown_windows: int = Field(default=1, ge=0)
    cooldown_hours: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _n_of_m(self) -> RetrainTrigger:
        if self.min_drifted > self.windows:
            raise ValueError(
                f"min_drifted ({self.min_drifted}) exceeds windows ({self.windows})"
            )
        if self.cooldown_hours is not None and "cooldown_windows" in self.model_fields_set:
            raise ValueError("set cooldown_windows or cooldown_hours, not both")
        return self


class QualityPolicy(_Strict):
    """The champion's quality on labelled windows, once labels have arrived.

    A window has decayed when the metric is worse than the champion's recorded holdout value
    by more than ``max_decay`` (absolute) or ``max_relative_decay`` (a fraction of it).
    """

    data_uri: str
    metric: str | None = None
    max_decay: float = Field(default=0.05, ge=0)
    max_relative_decay: float | None = Field(default=None, ge=0)


class DriftPolicy(_Strict):
    """Drift monitoring of the champion, and retraining that confirmed drift requests.

    ``data_uri`` (the window's data, Jinja-templated) defaults to the model's ``data_uri``;
    ``reference_uri`` replaces the champion's recorded training data; ``prediction`` names
    a column of model outputs monitored where both data sets have it; ``columns`` sets a
    method and threshold per column; windows above ``sample_size`` rows are sampled with
    ``sample_seed`` (the model's ``seed`` when unset). ``schedule`` is the monitor's.
    """

    schedule: str | None = "@daily"
    data_uri: str | None = None
    reference_uri: str | None = None
    prediction: str | None = None
    drift_share: float = Field(default=0.5, gt=0, le=1)
    method: str | None = None
    threshold: float | None = Field(default=None, gt=0)
    columns: dict[str, ColumnDriftSpec] = Field(default_factory=dict)
    sample_size: int | None = Field(default=100_000, gt=0)
    sample_seed: int | None = None
    on_failure: Literal["fail", "warn", "skip"] = "warn"
    dry_run: bool = False
    trigger: RetrainTrigger = Field(default_factory=RetrainTrigger)
    quality: QualityPolicy | None = None

    _method_known = field_validator("method")(_known_method)


class ScoringSpec(_Strict):
    """Batch scoring with the champion after each night's decision.

    ``output_uri`` is Jinja-templated, e.g. ``.../predictions/ds={{ ds }}/part.parquet``;
    ``data_uri`` defaults to the model's ``data_uri``.
    """

    output_uri: str
    key_columns: list[str] = Field(min_length=1)
    data_uri: str | None = None


class ReloadSpec(_Strict):
    """A reload request to a serving endpoint through an Airflow HTTP connection."""

    http_conn_id: str
    endpoint: str
    method: str = "POST"
    attempts: int = Field(default=5, ge=1)
    retry_wait_seconds: float = Field(default=2.0, ge=0)


class DeploymentPolicy(_Strict):
    """What follows a promotion: every part is off unless set.

    The smoke check before promotion predicts on ``smoke_sample_rows`` rows of the night's
    data. ``scoring`` scores each night's data with the champion; ``export_uri`` (a folder
    or object-storage URI) receives each new champion; ``reload`` is then called.
    """

    smoke_sample_rows: int = Field(default=100, gt=0)
    scoring: ScoringSpec | None = None
    export_uri: str | None = None
    reload: ReloadSpec | None = None


class DataQuery(_Strict):
    """The night's data as the result of a SQL query on an Airflow connection.

    An ``extract`` task runs ``sql`` (Jinja-templated) and streams its result as Parquet to
    the model's ``data_uri``, which every later task reads; with ``max_rows``, a seeded sample
    of that many rows drawn in the database (by ``key_column``, an integer column). With
    ``validate_in_database``, the query's result is validated inside the database first and
    extracted only when it passes.
    """

    sql: str = Field(min_length=1)
    conn_id: str = Field(min_length=1)
    validate_in_database: bool = False
    max_rows: int | None = Field(default=None, gt=0)
    key_column: str | None = None


class RetryPolicy(_Strict):
    """Retries of every task: ``count`` more tries, the first after ``delay_seconds``, each
    later wait ``backoff`` times the one before (0: constant) up to ``max_delay_minutes``."""

    count: int = Field(default=2, ge=0)
    delay_seconds: float = Field(default=60.0, ge=0)
    backoff: float = Field(default=2.0, ge=0)
    max_delay_minutes: float | None = Field(default=60.0, gt=0)


class Timeouts(_Strict):
    """How long work may take: one try of a task, a whole run (no limit when unset), and the
    wait for the night's data. A human's approval has its own ``approval.timeout_hours``."""

    task_minutes: float | None = Field(default=240.0, gt=0)
    run_hours: float | None = Field(default=None, gt=0)
    data_wait_hours: float = Field(default=6.0, gt=0)


class NotifierSpec(_Strict):
    """An Airflow notifier by import path and its arguments, e.g.
    ``airflow.providers.smtp.notifications.smtp.SmtpNotifier`` with ``{to: ..., subject: ...}``.
    It is imported only when an alert is sent."""

    notifier: str = Field(pattern=IMPORT_PATH_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)


class Alerts(_Strict):
    """Who hears about the model: ``on_failure`` of any task, ``on_promotion`` of a new
    champion."""

    on_failure: list[NotifierSpec] = Field(default_factory=list)
    on_promotion: list[NotifierSpec] = Field(default_factory=list)


class ModelConfig(_Strict):
    """Everything the nightly retrain template needs to know about one model."""

    name: str = Field(pattern=NAME_PATTERN)
    owner: str = "airflow"
    purpose: str | None = None  # what the model is for, shown on its model cards
    schedule: str | None = "@daily"
    start_date: dt.date
    task: Literal["classification", "regression"] = "classification"
    data_uri: str
    data_query: DataQuery | None = None
    target: str
    features: list[str] | None = None
    suite: Path
    estimator: ModelEstimatorSpec
    holdout_fraction: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 42
    promotion: PromotionPolicy = Field(default_factory=PromotionPolicy)
    experiment: str | None = Field(default=None, pattern=EXPERIMENT_PATTERN, max_length=255)
    mlflow_conn_id: str = "mlflow_default"
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    deployment: DeploymentPolicy = Field(default_factory=DeploymentPolicy)
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    alerts: Alerts = Field(default_factory=Alerts)
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        """The file the config was loaded from, for errors that name it."""
        return self._source_file

    @model_validator(mode="after")
    def _drift_fits_model(self) -> ModelConfig:
        known = {*(self.features or []), self.target, self.drift.prediction}
        unknown = sorted(set(self.drift.columns) - known) if self.features else []
        if unknown:
            raise ValueError(
                f"field 'drift.columns': {', '.join(unknown)} not among the features, target "
                "or prediction"
            )
        quality = self.drift.quality
        available = (*TASK_METRICS[self.task], *self.promotion.custom_metrics)
        if quality and quality.metric and quality.metric not in available:
            raise ValueError(
                f"field 'drift.quality.metric': '{quality.metric}' is not a {self.task} metric; "
                f"choose one of {', '.join(available)}"
            )
        return self

    @model_validator(mode="after")
    def _metric_fits_task(self) -> ModelConfig:
        problems = self.promotion.problems(self.task)
        if problems:
            raise ValueError("; ".join(f"field 'promotion.{f}': {m}" for f, m in problems))
        return self

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment runs of this model are logged to."""
        return self.experiment or f"airflow-mlops/{self.name}"


def _line_of(root: yaml.Node | None, location: tuple) -> int | None:
    """The 1-based line of the YAML key at ``location``, or of its closest present parent."""
    node, line = root, None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            found = [(key, value) for key, value in node.value if key.value == str(part)]
            if not found:
                break
            key, node = found[0]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(
            node.value
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refused unread beyond the size cap."""
    cap = int(os.environ.get(MAX_BYTES_ENV) or DEFAULT_MAX_BYTES)
    with path.open("rb") as file:
        data = file.read(cap + 1)
    if len(data) > cap:
        raise ConfigError(f"{path}: larger than {cap} bytes, the most a model config may hold "
                          f"(${MAX_BYTES_ENV} sets the cap)")
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _read_text(path: Path) -> str:
    """The file's text, refused unread beyond the size cap."""
    return _decode(path, _read_bytes(path))


def _check_structure(path: Path, text: str) -> None:
    """Refuse nesting beyond MAX_DEPTH and aliases adding more than ALIAS_BUDGET nodes, from
    the parser's events: before anything is composed or expanded."""
    depth = added = 0
    sizes: dict[str, int | None] = {}  # an anchor's node count; None while it is still open
    opened: list[tuple[str | None, int]] = []
    count = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            depth, count = depth + 1, count + 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{path}: line {line}: nested deeper than {MAX_DEPTH} levels")
            opened.append((event.anchor, count))
            if event.anchor:
                sizes[event.anchor] = None
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = opened.pop()
            if anchor:
                sizes[anchor] = count - start + 1
        elif isinstance(event, yaml.ScalarEvent):
            count += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in sizes and sizes[event.anchor] is None:
                raise ConfigError(f"{path}: line {line}: alias *{event.anchor} refers to itself")
            added += sizes.get(event.anchor) or 0
            count += sizes.get(event.anchor) or 0
            if added > ALIAS_BUDGET:
                raise ConfigError(
                    f"{path}: line {line}: YAML aliases expand to more than {ALIAS_BUDGET} "
                    "nodes; write the values out instead of repeating anchors"
                )


def _read_yaml(path: Path, text: str | None = None) -> tuple[Any, yaml.Node | None]:
    """The parsed config and its node tree (for line numbers), within the caps."""
    text = _read_text(path) if text is None else text
    _check_structure(path, text)
    loader = SafeLoader(text)
    try:
        root = loader.get_single_node()
        return (None if root is None else loader.construct_document(root)), root
    finally:
        loader.dispose()


def field_lines(path: str | os.PathLike, locations: list[tuple]) -> list[int | None]:
    """The line of each field (e.g. ``("estimator", "steps", 1)``) in a config file, read once."""
    try:
        _, root = _read_yaml(Path(path))
    except (OSError, yaml.YAMLError, ConfigError):
        root = None
    return [_line_of(root, location) for location in locations]


def _describe(error: dict, root: yaml.Node | None) -> str:
    message = error["msg"].removeprefix("Value error, ")
    location = tuple(error["loc"])
    named = re.match(r"field '([\w.]+)': ", message)
    if not location and named:  # a check across fields names the field in its message
        location, message = tuple(named.group(1).split(".")), message[named.end():]
    inner = re.match(r"at '([\w.]+)': ", message)
    if location and inner:  # a check of nested specs names the field below its own
        parts = (int(p) if p.isdigit() else p for p in inner.group(1).split("."))
        location, message = (*location, *parts), message[inner.end():]
    return _at(root, location, message)


def _at(root: yaml.Node | None, location: tuple, message: str) -> str:
    line = _line_of(root, location)
    where = f" (line {line})" if line else ""
    if not location:
        return f"{message}{where}"
    return f"field '{'.'.join(str(part) for part in location)}'{where}: {message}"


def _allowed_env_names() -> set[str]:
    """The names listed in ``$AIRFLOW_MLOPS_CONFIG_ENV_ALLOW`` (``AIRFLOW_MLOPS_*`` expand too)."""
    return {name.strip() for name in os.environ.get(ENV_ALLOW_ENV, "").split(",")} - {""}


def expand_env(value: str) -> str:
    """``value`` with ``$VAR``/``${VAR}`` of allowed variables expanded (unset ones kept).

    Allowed are ``AIRFLOW_MLOPS_*`` and the names listed (comma-separated) in
    ``$AIRFLOW_MLOPS_CONFIG_ENV_ALLOW``; any other reference is a ConfigError naming the
    variable, never its value.
    """
    allowed = _allowed_env_names()

    def substitute(match: re.Match) -> str:
        name = match.group(1).removeprefix("{").removesuffix("}")
        if not (name.startswith(ENV_PREFIX) or name in allowed):
            raise ConfigError(
                f"environment variable '{name}' may not be used in a config: only "
                f"{ENV_PREFIX}* and those listed in ${ENV_ALLOW_ENV} expand"
            )
        return os.environ.get(name, match.group(0))

    return _ENV_REFERENCE.sub(substitute, value)


# The fields in which environment variables expand.
ENV_FIELDS = (
    ("data_uri",), ("drift", "data_uri"), ("drift", "reference_uri"),
    ("drift", "quality", "data_uri"), ("deployment", "scoring", "output_uri"),
    ("deployment", "scoring", "data_uri"), ("deployment", "export_uri"),
)
# The fields that become Jinja template fields of a task, besides the alerts' params.
TEMPLATED_FIELDS = (
    *ENV_FIELDS, ("data_query", "sql"), ("suite",), ("deployment", "reload", "endpoint"),
)


def _get(raw: Any, location: tuple) -> Any:
    for part in location:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(part)
    return raw


def _set(raw: dict, location: tuple, value: Any) -> None:
    for part in location[:-1]:
        raw = raw[part]
    raw[location[-1]] = value


def _strings(value: Any, location: tuple) -> list[tuple[tuple, str]]:
    if isinstance(value, str):
        return [(location, value)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _strings(item, (*location, key))]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _strings(item, (*location, i))]
    return []


def templated_texts(raw: dict) -> list[tuple[tuple, str]]:
    """(field, text) of every string in a config that becomes template text of a task."""
    found = [(location, text) for location in TEMPLATED_FIELDS
             if isinstance(text := _get(raw, location), str)]
    alerts = raw.get("alerts") if isinstance(raw.get("alerts"), dict) else {}
    for event in ("on_failure", "on_promotion"):
        for index, spec in enumerate(alerts.get(event) or []):
            if isinstance(spec, dict):
                found += _strings(spec.get("params"), ("alerts", event, index, "params"))
    return found


def _text_problems(raw: dict) -> list[tuple[tuple, str]]:
    """Expand allowed environment variables in place; (field, problem) of each text a config
    may not hold."""
    problems = []
    for location in ENV_FIELDS:
        value = _get(raw, location)
        if isinstance(value, str):
            try:
                _set(raw, location, expand_env(value))
            except ConfigError as exc:
                problems.append((location, str(exc)))
    for location, text in templated_texts(raw):
        problem = template_problem(text)
        if problem:
            problems.append((location, problem))
    return problems


@functools.cache
def _code_digest() -> str:
    """The product's version and the source of the modules that shape a validated config."""
    modules = ("config", "templating", "metrics", "drift", "errors")
    digest = hashlib.sha256(airflow_mlops.__version__.encode())
    for module in modules:
        digest.update(Path(sys.modules[f"airflow_mlops.core.{module}"].__file__).read_bytes())
    return digest.hexdigest()


def cache_key(data: bytes) -> str:
    """The key of a config file's validated form: its exact bytes, the versions of Python,
    pydantic and the product (with its validating code), every setting of the config-safety
    checks and the value of each allowed environment variable the file names."""
    text = data.decode("utf-8", errors="replace")
    allowed = _allowed_env_names()
    named = sorted({match.group(1).removeprefix("{").removesuffix("}")
                    for match in _ENV_REFERENCE.finditer(text)})
    settings = {
        "python": sys.version, "pydantic": pydantic.VERSION, "code": _code_digest(),
        "limits": [MAX_DEPTH, ALIAS_BUDGET, MAX_TEMPLATE_CHARS],
        **{name: os.environ.get(name) for name in (
            ENV_ALLOW_ENV, IMPORT_PREFIXES_ENV, MAX_BYTES_ENV, config_cache.CACHE_ENV
        )},
        "env": {name: os.environ.get(name) for name in named
                if name.startswith(ENV_PREFIX) or name in allowed},
    }
    digest = hashlib.sha256(hashlib.sha256(data).digest())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def _cached(key: str) -> ModelConfig | None:
    """The entry under ``key`` when it still passes the schema and the template checks."""
    entry = config_cache.read_entry(key)
    if entry is None:
        return None
    try:
        raw = json.loads(entry)
        if not isinstance(raw, dict) or any(template_problem(text)
                                            for _, text in templated_texts(raw)):
            return None
        return ModelConfig.model_validate(raw)
    except (ValueError, RecursionError):  # a broken or tampered entry: read the file again
        return None


def _cache(key: str, config: ModelConfig) -> None:
    """Keep ``config`` under ``key`` when its JSON reads back as the same config."""
    entry = config.model_dump_json(by_alias=True, exclude_unset=True)
    if ModelConfig.model_validate(json.loads(entry)) == config:  # e.g. dates in params: not
        config_cache.write_entry(key, entry.encode())


def _validated(path: Path, text: str) -> ModelConfig:
    """The config in ``text`` after every check; relative paths not yet resolved."""
    try:
        raw, root = _read_yaml(path, text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    problems = _text_problems(raw)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(_at(root, loc, msg) for loc, msg in problems))
    try:
        return ModelConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{path}: {'; '.join(_describe(error, root) for error in exc.errors())}"
        ) from None


def load_model_config(path: str | os.PathLike) -> ModelConfig:
    """Read and validate a model config; relative paths resolve against its folder.

    Errors name the file, the field and its line. The file is refused beyond its size,
    nesting and alias caps; template text must keep to the allow-list of
    :mod:`airflow_mlops.core.templating`; environment variables expand by :func:`expand_env`
    in ``data_uri`` and the drift and deployment sections' URIs. A config that passed all of
    this is kept in :mod:`airflow_mlops.core.config_cache` under :func:`cache_key`; the next
    parse of the same bytes with the same settings validates that entry again instead of
    reading the YAML.
    """
    path = Path(path)
    try:
        data = _read_bytes(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: model config not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: model config cannot be read: {exc.strerror}") from None
    key = cache_key(data)  # an entry exists only for bytes that decoded and passed every check
    config = _cached(key)
    if config is None:
        config = _validated(path, _decode(path, data))
        _cache(key, config)
    suite = Path(os.path.realpath(os.path.join(path.parent, config.suite)))
    loaded = config.model_copy(update={"suite": suite})
    loaded._source_file = path
    return loaded


def peek_name(path: str | os.PathLike) -> str | None:
    """The model name a config file declares when valid, even if the rest of it is broken
    (too deep, too many aliases): read from the parser's events, nothing is composed."""
    try:
        events = yaml.parse(_read_text(Path(path)), Loader=SafeLoader)
        depth, key = 0, None
        for event in events:
            if isinstance(event, yaml.CollectionStartEvent | yaml.CollectionEndEvent):
                depth += 1 if isinstance(event, yaml.CollectionStartEvent) else -1
                key = None
            elif depth == 1 and isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                if key == "name":
                    name = getattr(event, "value", None)
                    return name if name and re.fullmatch(NAME_PATTERN, name) else None
                key = getattr(event, "value", None) if key is None else None
    except (OSError, yaml.YAMLError, ConfigError):
        return None
    return None
