"""Data drift of a window against the champion's training data, measured with Evidently.

The reference is the data the ``champion`` version was trained on: its URI, row fingerprint
and file digest are tags of the model version (see :mod:`airflow_mlops.core.training`). The
current window holds the features and, when present, the target and the model's predictions.

Evidently runs only on what it can compare. Before it runs, each monitored column is checked:

- missing from the current window or the reference: :class:`DataError` naming file and columns;
- no values at all in one of the two: reported as drifted (method ``missing_values``);
- numerical in one and categorical in the other: reported as drifted (method ``schema``);
- no values in either: not monitored, and said so;
- columns only the current window has: listed as ``added_columns``, not monitored.

Evidently 0.7 takes seconds to import and about a minute per million rows, so it is imported
inside :func:`check_drift`, and windows above ``sample_size`` rows are sampled with a seed
(Parquet windows while they are read, see :func:`airflow_mlops.core.io.read_sample`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.drift_history import (
    CheckedWindow,
    Window,
    cached_sample,
    record_window,
    remembered_digest,
)
from airflow_mlops.core.errors import ConfigError, DataError, PathEscapeError, RegistryError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.core.io import (
    Sampled,
    StoragePath,
    as_path,
    file_digest,
    file_version,
    fingerprint,
    read_sample,
    read_table,
    sample_positions,
    short,
)
from airflow_mlops.core.paths import require_under
from airflow_mlops.core.reports import NO_SCRIPT, policy_meta, safe_evidently_html
from airflow_mlops.core.validation import jsonable

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

NUMERICAL, CATEGORICAL = "num", "cat"
# Evidently 0.7's drift methods for tabular columns, and the column kinds each one tests.
DRIFT_METHODS: dict[str, tuple[str, ...]] = {
    "anderson": (NUMERICAL,),
    "chisquare": (CATEGORICAL,),
    "cramer_von_mises": (NUMERICAL,),
    "ed": (NUMERICAL,),
    "empirical_mmd": (NUMERICAL,),
    "es": (NUMERICAL,),
    "fisher_exact": (CATEGORICAL,),
    "g_test": (CATEGORICAL,),
    "hellinger": (CATEGORICAL, NUMERICAL),
    "jensenshannon": (CATEGORICAL, NUMERICAL),
    "kl_div": (CATEGORICAL, NUMERICAL),
    "ks": (NUMERICAL,),
    "mannw": (NUMERICAL,),
    "psi": (CATEGORICAL, NUMERICAL),
    "t_test": (NUMERICAL,),
    "TVD": (CATEGORICAL,),
    "wasserstein": (NUMERICAL,),
    "z": (CATEGORICAL,),
}
KIND_NAMES = {NUMERICAL: "numerical", CATEGORICAL: "categorical"}
MISSING_VALUES = "missing_values"
SCHEMA = "schema"
MAX_SUMMARY_BYTES = 4096
MAX_NEW_VALUES = 3
MAX_TEXT = 120
MAX_REASON = 600
MAX_CATEGORY = 200
# Summary keys RequestRetrainOperator reads; fit_summary never clips them.
KEPT = frozenset({"monitor", "drifted", "champion_version", "verdict", "window"})
RESULT_FILE = "drift_result.json"
REPORT_FILE = "drift_report.html"


class NoChampionError(RegistryError):
    """The model has no champion yet: there is nothing to monitor."""


@dataclass(frozen=True)
class Reference:
    """The data a champion was trained on."""

    model: str
    version: str
    uri: str
    fingerprint: str | None
    digest: str | None = None


class UntrustedReferenceError(RegistryError):
    """The champion's recorded training data is not where, or not what, it may be read as."""


def champion_reference(
    client: MlflowClient, model: str, uri: str | None = None, *, roots: Sequence[str] = ()
) -> Reference:
    """The champion's training data, from its version tags, or ``uri`` when given.

    A registry writer can set any tag, so a recorded location is only read when it lies
    inside one of ``roots`` (no ``..``, no link leading out) and comes with its recorded
    row fingerprint or file digest, which the data must then match before it is used.

    :raises NoChampionError: the model has no champion.
    :raises RegistryError: the champion records no training data and no ``uri`` is given.
    :raises UntrustedReferenceError: the recorded data lies outside ``roots``, or neither
        its fingerprint nor its digest is recorded.
    """
    version = registry.alias_version(client, model, registry.CHAMPION)
    if version is None:
        raise NoChampionError(f"model '{model}' has no champion yet: nothing to compare against")
    if uri:
        return Reference(model, version, uri, None)
    tags = client.get_model_version(model, version).tags
    recorded = tags.get(registry.tag("data_uri"))
    if not recorded:
        raise RegistryError(
            f"model '{model}' champion v{version} records no training data (tag "
            f"{registry.tag('data_uri')}); it was not registered by airflow-mlops. Set "
            "drift.reference_uri in the model config to the data it was trained on"
        )
    where = f"model '{model}' champion v{version}"
    location = _allowed_location(recorded, roots, where)
    reference = Reference(model, version, location, tags.get(registry.tag("data_fingerprint")),
                          tags.get(registry.tag("data_digest")))
    if not (reference.fingerprint or reference.digest):
        raise UntrustedReferenceError(
            f"{where}: its training data {_clip(recorded, MAX_TEXT)!r} comes with no recorded "
            f"fingerprint or digest (tags {registry.tag('data_fingerprint')}, "
            f"{registry.tag('data_digest')}), so nothing shows it is the data the model was "
            "trained on; refusing to read it. Promote a version the retrain DAG registered "
            "(it records both), or set drift.reference_uri in the model config to the data "
            "to compare with"
        )
    return reference


def _allowed_location(recorded: str, roots: Sequence[str], where: str) -> str:
    """``recorded``, normalised, if it lies inside one of ``roots``."""
    problems = []
    for root in roots:
        try:
            return require_under(root, recorded, what="recorded training data")
        except PathEscapeError as exc:
            problems.append(str(exc))
    allowed = ", ".join(roots) or "none configured"
    raise UntrustedReferenceError(
        f"{where}: tag {registry.tag('data_uri')} names {_clip(recorded, MAX_TEXT)!r}, which is "
        f"not inside a folder a reference may be read from ({allowed}); refusing to read it"
        + (f" ({_clip(problems[-1], MAX_TEXT * 2)})" if len(problems) == 1 else "")
        + ". A registry tag may only name data under the model's data_uri folder: set "
        "drift.reference_uri in the model config, or add the folder to [mlops] reference_roots"
    )


def verify_reference(frame: pd.DataFrame, reference: Reference) -> None:
    """Fail if the reference data changed since the champion was trained on it."""
    if reference.fingerprint and fingerprint(frame) != reference.fingerprint:
        raise DataError(
            f"{reference.uri}: changed since model '{reference.model}' v{reference.version} "
            f"was trained on it (fingerprint {fingerprint(frame)}, recorded "
            f"{reference.fingerprint}); drift would be measured against other data"
        )


@dataclass(frozen=True)
class DriftOptions:
    """How drift is tested.

    :param drift_share: the window has drifted when at least this share of columns drifted.
    :param method: Evidently method for every column; Evidently picks one per column if None.
    :param threshold: threshold of ``method`` (its own default if None).
    :param columns: per column, ``{"method": ..., "threshold": ...}`` overriding the above.
    :param sample_size: windows with more rows are sampled down to this many; None keeps all.
    :param seed: seed of the sampling: the same data and seed give the same rows.
    """

    drift_share: float = 0.5
    method: str | None = None
    threshold: float | None = None
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_size: int | None = 100_000
    seed: int = 0

    def method_of(self, column: str) -> str | None:
        """The method configured for ``column``, if any."""
        return (self.columns.get(column) or {}).get("method") or self.method


@dataclass(frozen=True)
class ColumnDrift:
    """The drift verdict of one column."""

    column: str
    method: str
    score: float | None
    threshold: float | None
    drifted: bool
    note: str = ""

    def to_dict(self) -> dict:
        """Compact JSON form (the column name is the key it is stored under)."""
        data = {"method": self.method, "score": _rounded(self.score),
                "threshold": self.threshold, "drifted": self.drifted}
        return data | ({"note": self.note} if self.note else {})


@dataclass(frozen=True)
class DriftResult:
    """The outcome of :func:`check_drift`: verdicts per column and for the window.

    :param evidently: Evidently's result (``Snapshot.dict()``), None if nothing was compared.
    :param html: Evidently's HTML report, None if nothing was compared.
    """

    columns: list[ColumnDrift]
    drift_share: float
    rows_reference: int
    rows_current: int
    sampled_reference: int
    sampled_current: int
    added_columns: list[str] = field(default_factory=list)
    unmonitored: dict[str, str] = field(default_factory=dict)
    evidently: dict | None = None
    html: str | None = None

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns that drifted."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        """Share of monitored columns that drifted."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        """Whether the window drifted: the share reached ``drift_share`` (Evidently's rule)."""
        return bool(self.columns) and self.share >= self.drift_share

    def reason(self) -> str:
        """One line: which columns drifted, by what measure."""
        described = ", ".join(
            f"{c.column} ({c.note or f'{c.method} {_rounded(c.score)}'})"
            for c in self.columns if c.drifted
        )
        return (f"{len(self.drifted_columns)} of {len(self.columns)} columns drifted "
                f"(share {self.share:.2f}, limit {self.drift_share}): {described or 'none'}")

    def summary(self, **context: Any) -> dict:
        """At most 4 KB of JSON: the verdict, then per column method, score and drifted.

        ``context`` (model, window, report link...) is merged in. Drifted columns come
        first; when not all columns fit, the last ones are left out and ``omitted_columns``
        counts them (``drifted_columns`` and ``columns`` always count all).
        """
        ordered = sorted(self.columns, key=lambda c: not c.drifted)
        data = jsonable({
            **context,
            "monitor": "drift",
            "drifted": self.drifted,
            "share": round(self.share, 4),
            "drift_share": self.drift_share,
            "drifted_columns": len(self.drifted_columns),
            "columns": len(self.columns),
            "rows": {"reference": self.rows_reference, "current": self.rows_current,
                     "sampled_reference": self.sampled_reference,
                     "sampled_current": self.sampled_current},
            "added_columns": self.added_columns,
            "unmonitored": self.unmonitored,
            "per_column": {c.column: c.to_dict() for c in ordered},
            "omitted_columns": 0,
        })
        return fit_summary(data, "per_column", "omitted_columns")


def fit_summary(data: dict, items: str | None = None, omitted: str | None = None) -> dict:
    """``data`` cut to at most 4 KB of JSON.

    Values over 1 KB (long lists of names) are clipped to a short text first; then entries
    of ``data[items]`` are left out from the end, counted in ``data[omitted]``; then other
    long values are clipped. The keys the retrain request reads (:data:`KEPT`) stay whole.
    """
    _clip_values(data, items, MAX_SUMMARY_BYTES // 4)
    entries = data[items] if items else {}
    while len(json.dumps(data)) > MAX_SUMMARY_BYTES and entries:
        entries.pop(next(reversed(entries)))
        data[omitted] += 1
    _clip_values(data, items, MAX_TEXT)
    return data


def _clip_values(data: dict, items: str | None, longer_than: int) -> None:
    """Clip the longest values to short texts while ``data`` exceeds the budget."""
    for key in sorted((k for k in data if k not in KEPT and k != items),
                      key=lambda k: -len(json.dumps(data[k]))):
        if len(json.dumps(data)) <= MAX_SUMMARY_BYTES:
            return
        text = data[key] if isinstance(data[key], str) else json.dumps(data[key])
        if len(text) > longer_than:
            data[key] = _clip(text, MAX_TEXT)


def report_files(summary: dict, result: DriftResult | None) -> dict[str, str]:
    """File name to content: the full result as JSON and the HTML report.

    Without a result (the window could not be compared) both say why.
    """
    full = {"summary": summary}
    if result is not None:
        full |= {"per_column": {c.column: c.to_dict() for c in result.columns},
                 "evidently": result.evidently}
    return {RESULT_FILE: json.dumps(jsonable(full), indent=2),
            REPORT_FILE: _with_banner(result, summary)}


def window_columns(
    reference: Sequence[str], *, features: list[str] | None, target: str | None,
    prediction: str | None = None,
) -> list[str]:
    """The columns a window is read with: the features, target and prediction."""
    extras = [c for c in (target, prediction) if c]
    return _features(reference, features, extras) + extras


def monitored_columns(
    reference: Sequence[str],
    current: Sequence[str],
    *,
    features: list[str] | None,
    target: str | None,
    prediction: str | None = None,
    reference_name: str = "reference",
    current_name: str = "current window",
) -> list[str]:
    """Of the ``reference``'s and ``current``'s columns: the features, plus target and
    prediction where both data sets have them.

    :raises DataError: a feature is missing from either data set (each named).
    """
    extras = [c for c in (target, prediction) if c]
    wanted = _features(reference, features, extras)
    for name, columns in ((reference_name, reference), (current_name, current)):
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise DataError(
                f"{name}: feature column(s) {', '.join(missing)} missing; it has "
                f"{', '.join(map(str, columns))}"
            )
    return wanted + [c for c in extras if c in reference and c in current]


def _features(reference: Sequence[str], features: list[str] | None, extras: list[str]) -> list[str]:
    """The configured features; by default the reference's columns but target and prediction."""
    return list(features or [c for c in reference if c not in extras])


def sample(frame: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """``size`` rows drawn without replacement, in their original order; all if fewer.

    They are the rows :func:`~airflow_mlops.core.io.read_sample` keeps while reading.
    """
    positions = sample_positions(len(frame.index), size, seed)
    return frame if positions is None else frame.iloc[positions]


def _kind(series: pd.Series) -> str:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return NUMERICAL if numeric else CATEGORICAL


def _example(series: pd.Series) -> str:
    values = series.dropna()
    return repr(values.iloc[0])[:40] if len(values.index) else "none"


def _precheck(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> tuple[dict[str, str], list[ColumnDrift], dict[str, str]]:
    """Kinds of the columns Evidently can compare; verdicts and notes for the others."""
    kinds: dict[str, str] = {}
    verdicts: list[ColumnDrift] = []
    unmonitored: dict[str, str] = {}
    for column in columns:
        ref, cur = reference[column], current[column]
        ref_empty, cur_empty = not ref.notna().any(), not cur.notna().any()
        if ref_empty and cur_empty:
            unmonitored[column] = "no values in the reference or the current window"
        elif ref_empty or cur_empty:
            where = "reference" if ref_empty else "current window"
            verdicts.append(ColumnDrift(column, MISSING_VALUES, 1.0, None, True,
                                        f"all values missing in the {where}"))
        elif _kind(ref) != _kind(cur):
            note = (f"type changed: {KIND_NAMES[_kind(ref)]} in the reference, "
                    f"{KIND_NAMES[_kind(cur)]} in the current window (e.g. {_example(cur)})")
            verdicts.append(ColumnDrift(column, SCHEMA, None, None, True, note))
        else:
            kinds[column] = _kind(ref)
    return kinds, verdicts, unmonitored


def _check_methods(kinds: dict[str, str], options: DriftOptions) -> None:
    for column, kind in kinds.items():
        method = options.method_of(column)
        if method is None:
            continue
        if method not in DRIFT_METHODS:
            raise ConfigError(f"column '{column}': unknown drift method '{method}'")
        if kind not in DRIFT_METHODS[method]:
            raise ConfigError(
                f"column '{column}' is {KIND_NAMES[kind]}, but drift method '{method}' tests "
                f"{' and '.join(KIND_NAMES[k] for k in DRIFT_METHODS[method])} columns only; "
                "set another method for it under drift.columns"
            )


def _as_categories(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Categorical columns as strings (missing values stay missing), for Evidently.

    Values longer than :data:`MAX_CATEGORY` characters are cut to their start plus a digest
    of the whole, so distinct values stay distinct while the report stays small.
    """
    import pandas as pd

    frame = frame.copy(deep=False)
    for column in columns:
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            values = values.astype(object).where(values.isna(), values.astype(str))
        long = (values.str.len().fillna(0) > MAX_CATEGORY).astype(bool)
        if long.any():
            values = values.astype(object).where(~long, values[long].map(_short_category))
        frame[column] = values
    return frame


def _short_category(value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return f"{value[:MAX_CATEGORY - 40]}... ({len(value)} characters, {digest})"


def _new_values(reference: pd.Series, current: pd.Series) -> str:
    """The values of a categorical column the reference never had, a few of them named."""
    import pandas as pd

    values = pd.Index(current.dropna().unique())
    new = values[~values.isin(reference.dropna().unique())]
    if not len(new):
        return ""
    shown = ", ".join(repr(v)[:30] for v in new[:MAX_NEW_VALUES])
    more = f" and {len(new) - MAX_NEW_VALUES} more" if len(new) > MAX_NEW_VALUES else ""
    return f"new values: {shown}{more}"


def _run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], options: DriftOptions
) -> tuple[list[ColumnDrift], dict, str]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = list(kinds)
    categorical = [c for c in columns if kinds[c] == CATEGORICAL]
    definition = DataDefinition(
        numerical_columns=[c for c in columns if kinds[c] == NUMERICAL],
        categorical_columns=categorical,
    )
    per_column = {c: spec for c, spec in options.columns.items() if c in kinds}
    preset = DataDriftPreset(
        columns=columns,
        drift_share=options.drift_share,
        method=options.method,
        threshold=options.threshold,
        per_column_method={c: s["method"] for c, s in per_column.items() if s.get("method")},
        per_column_threshold={c: s["threshold"] for c, s in per_column.items()
                              if s.get("threshold") is not None},
    )
    datasets = [Dataset.from_pandas(_as_categories(frame[columns], categorical),
                                    data_definition=definition)
                for frame in (current, reference)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            snapshot = Report([preset], include_tests=True).run(*datasets)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise DataError(f"Evidently could not compare columns {', '.join(columns)}: "
                            f"{short(exc)}") from None
    result = snapshot.dict()
    return _column_verdicts(result), result, _evidently_page(snapshot)


def _evidently_page(snapshot) -> str | None:
    """Evidently's HTML report, unable to run script from data; None if it cannot be made so."""
    try:
        return safe_evidently_html(snapshot.get_html_str(as_iframe=False))
    except ValueError as exc:
        logging.getLogger(__name__).warning("Drift report without Evidently's part: %s", exc)
        return None


def _column_verdicts(result: dict) -> list[ColumnDrift]:
    """Per column method, score, threshold and drifted, from a Snapshot's ``dict()``."""
    failed = {test["metric_config"]["metric_id"]: str(getattr(test["status"], "value",
                                                              test["status"])) == "FAIL"
              for test in result["tests"]}
    verdicts = []
    for metric in result["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        verdicts.append(ColumnDrift(
            column=config["column"], method=config["method"], score=float(metric["value"]),
            threshold=config.get("threshold"), drifted=failed[metric["id"]],
        ))
    return verdicts


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str],
    options: DriftOptions,
    current_name: str = "current window",
    rows_reference: int | None = None,
    rows_current: int | None = None,
    current_columns: Sequence[str] | None = None,
) -> DriftResult:
    """Compare ``columns`` of the current window with the reference.

    Either frame may already be a sample (:func:`~airflow_mlops.core.io.read_sample`);
    ``rows_reference`` and ``rows_current`` then count the rows it was drawn from. When the
    current frame holds only some of the window's columns, ``current_columns`` names all.

    :raises DataError: the current window has no rows, or Evidently cannot compare them.
    :raises ConfigError: a configured method does not fit a column's kind.
    """
    from airflow_mlops.core.io import require_rows

    require_rows(current, current_name)
    ref = sample(reference, options.sample_size, options.seed)
    cur = sample(current, options.sample_size, options.seed)
    kinds, verdicts, unmonitored = _precheck(ref, cur, columns)
    _check_methods(kinds, options)
    evidently = html = None
    if kinds:
        compared, evidently, html = _run_evidently(ref, cur, kinds, options)
        verdicts += [
            _with_note(v, _new_values(ref[v.column], cur[v.column]))
            if kinds[v.column] == CATEGORICAL else v
            for v in compared
        ]
    order = {c: i for i, c in enumerate(columns)}
    return DriftResult(
        columns=sorted(verdicts, key=lambda v: order[v.column]),
        drift_share=options.drift_share,
        rows_reference=len(reference.index) if rows_reference is None else rows_reference,
        rows_current=len(current.index) if rows_current is None else rows_current,
        sampled_reference=len(ref.index),
        sampled_current=len(cur.index),
        added_columns=[str(c) for c in (current_columns or current.columns)
                       if c not in reference.columns],
        unmonitored=unmonitored,
        evidently=evidently,
        html=html,
    )


def monitor_drift(
    *,
    model_name: str,
    experiment_name: str,
    window: Window,
    data_uri: str,
    target: str | None,
    features: list[str] | None,
    options: DriftOptions,
    policy: FailurePolicy,
    lineage: dict[str, str],
    prediction: str | None = None,
    reference_uri: str | None = None,
    reference_roots: Sequence[str] = (),
    artifact_location: str | None = None,
    locate: Callable[[str], StoragePath] = as_path,
) -> CheckedWindow:
    """Check one window against the champion's training data and record it in the history.

    The champion's recorded training data is read only from inside ``reference_roots``
    (see :func:`champion_reference`); nothing is recorded when it is refused. Data that
    cannot be compared (unreadable, no rows, a feature missing, the reference changed) is a
    failed check with the reason, recorded too. ``locate`` turns a URI into the path the
    data is read through. The window is sampled while it is read.

    :raises NoChampionError: the model has no champion.
    :raises RegistryError: the champion records no training data and no ``reference_uri``.
    :raises UntrustedReferenceError: the recorded training data may not be read.
    :raises ConfigError: a configured method does not fit a column.
    """
    import mlflow

    reference = champion_reference(mlflow.MlflowClient(), model_name, reference_uri,
                                   roots=reference_roots)
    context = {"model": model_name, "champion_version": reference.version,
               "reference": reference.uri, "current": data_uri, "window": window.to_dict()}
    result = None
    try:
        sampled = reference_sample(reference, options, locate, experiment_name,
                                   artifact_location)
        current = read_sample(
            locate(data_uri), size=options.sample_size, seed=options.seed, name=data_uri,
            columns=window_columns(sampled.columns, features=features, target=target,
                                   prediction=prediction),
        )
        columns = monitored_columns(sampled.columns, current.columns, features=features,
                                    target=target, prediction=prediction,
                                    reference_name=reference.uri, current_name=data_uri)
        result = check_drift(sampled.frame, current.frame, columns=columns, options=options,
                             current_name=data_uri, rows_reference=sampled.rows,
                             rows_current=current.rows, current_columns=current.columns)
        reason = result.reason()
    except DataError as exc:
        reason = str(exc)
    drifted = None if result is None else result.drifted
    recorded = record_window(
        experiment_name=experiment_name, monitor="drift", window=window, drifted=drifted,
        champion_version=reference.version,
        metrics={} if result is None else {"share": result.share,
                                           "drifted_columns": len(result.drifted_columns)},
        files=report_files(_summary(result, reason, context), result), report_file=REPORT_FILE,
        lineage=lineage, artifact_location=artifact_location,
    )
    verdict = policy.decide(
        passed=drifted is False,
        reason=_clip(f"drift of {data_uri} from model '{model_name}' v{reference.version}'s "
                     f"training data: {reason}", MAX_REASON) + f". Report: {recorded['report']}",
    )
    context |= {"report": recorded["report"], "verdict": verdict.to_dict()}
    return CheckedWindow(_summary(result, reason, context), verdict)


def reference_sample(
    reference: Reference, options: DriftOptions, locate: Callable[[str], StoragePath],
    experiment_name: str, artifact_location: str | None = None,
) -> Sampled:
    """The reference, verified against what training recorded and sampled like the windows.

    The reference file's digest is computed when the file is new or rewritten (remembered
    per size and modification time). Bytes equal to the digest recorded at training are the
    trained-on rows: they are sampled while read, like a window. Other bytes are refused
    when only a digest was recorded; otherwise they are read whole and fail verification
    when their rows differ from the recorded fingerprint; else (same rows, or nothing
    recorded because ``reference_uri`` was given) they are sampled. Samples are cached in
    the monitoring experiment per champion version, sampling and digest; nothing about the
    file is stored before it passed these checks.
    """
    path = locate(reference.uri)
    digest, remember = remembered_digest(
        experiment_name, reference.uri, file_version(path),
        lambda: file_digest(path, name=reference.uri), artifact_location,
    )

    def build() -> Sampled:
        if digest == reference.digest:
            return read_sample(path, size=options.sample_size, seed=options.seed,
                               name=reference.uri)
        if reference.digest and not reference.fingerprint:
            raise DataError(
                f"{reference.uri}: changed since model '{reference.model}' "
                f"v{reference.version} was trained on it (SHA-256 {digest}, recorded "
                f"{reference.digest}); drift would be measured against other data"
            )
        frame = read_table(path, name=reference.uri)
        verify_reference(frame, reference)
        return Sampled(sample(frame, options.sample_size, options.seed), len(frame.index),
                       list(frame.columns))

    if options.sample_size is None:
        sampled = build()
    else:
        key = (f"reference/{reference.model}/v{reference.version}/"
               f"{reference.fingerprint or 'unrecorded'}/{digest}/"
               f"{options.sample_size}/{options.seed}")
        sampled = cached_sample(experiment_name, key, build, artifact_location)
    remember()
    return sampled


def _summary(result: DriftResult | None, reason: str, context: dict) -> dict:
    if result is not None:
        return result.summary(**context)
    return fit_summary(jsonable({**context, "monitor": "drift", "drifted": None,
                                  "error": reason}))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _with_note(verdict: ColumnDrift, note: str) -> ColumnDrift:
    return replace(verdict, note=note) if note else verdict


def _rounded(value: float | None) -> float | str | None:
    if value is None:
        return None
    if not math.isfinite(value):
        return str(value)
    return float(f"{value:.4g}")


def _with_banner(result: DriftResult | None, summary: dict) -> str:
    """Evidently's report with our verdict and the columns it did not compare on top."""
    title = f"Drift of {summary.get('current') or 'the current window'}"
    if result is None:
        body = f"<p>Not compared: {escape(str(summary.get('error')))}</p>"
        return _page(title, body)
    rows = "".join(
        f"<tr><td>{escape(c.column)}</td><td>{escape(c.method)}</td>"
        f"<td>{escape(str(_rounded(c.score)))}</td><td>{'yes' if c.drifted else 'no'}</td>"
        f"<td>{escape(c.note)}</td></tr>"
        for c in result.columns if c.method in (MISSING_VALUES, SCHEMA) or c.note
    )
    rows += "".join(f"<tr><td>{escape(c)}</td><td>-</td><td></td><td>not monitored</td>"
                    f"<td>{escape(why)}</td></tr>" for c, why in result.unmonitored.items())
    table = ("<table border=1 cellpadding=4><tr><th>Column</th><th>Method</th><th>Score</th>"
             f"<th>Drifted</th><th>Note</th></tr>{rows}</table>") if rows else ""
    body = f"<p>{escape(result.reason())}</p>{table}"
    if result.html is None:
        return _page(title, body)
    banner = f'<div style="font-family:sans-serif;margin:1rem"><h2>{escape(title)}</h2>{body}</div>'
    return result.html.replace("<body>", f"<body>{banner}", 1)


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"{policy_meta(NO_SCRIPT)}<title>{escape(title)}</title></head>"
            f'<body style="font-family:sans-serif"><h1>{escape(title)}</h1>{body}</body></html>')
