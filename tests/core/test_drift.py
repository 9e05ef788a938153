"""Drift against the champion's training data: bad inputs, sampling, verdicts, summaries."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops.core import registry
from airflow_mlops.core.drift import (
    DRIFT_METHODS,
    MAX_SUMMARY_BYTES,
    ColumnDrift,
    DriftOptions,
    DriftResult,
    NoChampionError,
    champion_reference,
    check_drift,
    monitor_drift,
    monitored_columns,
    sample,
    verify_reference,
)
from airflow_mlops.core.drift_history import Window
from airflow_mlops.core.errors import ConfigError, DataError, RegistryError
from airflow_mlops.core.failure import FailurePolicy
from airflow_mlops.core.io import file_digest, fingerprint

ROWS = 1200  # above 1000 rows Evidently picks distances, which are stable
WINDOW = Window(dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc),
                dt.datetime(2026, 3, 3, tzinfo=dt.timezone.utc), "2026-03-02")


def frames(rows: int = ROWS, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current with one shifted numeric and one shifted categorical column."""
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({
        "steady": rng.normal(0, 1, rows),
        "shifted": rng.normal(0, 1, rows),
        "plan": rng.choice(["a", "b", "c"], rows, p=[0.6, 0.3, 0.1]),
        "region": rng.choice(["n", "s"], rows),
    })
    current = pd.DataFrame({
        "steady": rng.normal(0, 1, rows),
        "shifted": rng.normal(1.5, 1, rows),
        "plan": rng.choice(["a", "b", "c"], rows, p=[0.1, 0.3, 0.6]),
        "region": rng.choice(["n", "s"], rows),
    })
    return reference, current


def check(reference, current, **options) -> DriftResult:
    return check_drift(reference, current, columns=list(reference.columns),
                       options=DriftOptions(**options), current_name="window.csv")


def verdicts(result: DriftResult) -> dict[str, bool]:
    return {c.column: c.drifted for c in result.columns}


def test_known_drifted_and_undrifted_columns_are_detected():
    result = check(*frames())

    assert verdicts(result) == {"steady": False, "shifted": True, "plan": True, "region": False}
    assert result.share == 0.5 and result.drifted
    assert "shifted" in result.reason() and "plan" in result.reason()
    assert result.evidently["metrics"] and "<body>" in result.html


def test_per_column_method_and_threshold_are_used():
    result = check(*frames(), columns={"steady": {"method": "ks", "threshold": 0.01},
                                       "plan": {"method": "psi"}})

    methods = {c.column: (c.method, c.threshold) for c in result.columns}
    assert methods["steady"] == ("ks", 0.01)
    assert methods["plan"][0] == "psi"


def test_a_method_that_does_not_fit_the_column_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="column 'steady' is numerical.*'chisquare'"):
        check(*frames(), columns={"steady": {"method": "chisquare"}})


def test_column_missing_from_the_current_window_names_file_and_column():
    reference, current = frames()

    with pytest.raises(DataError, match=r"window.csv: feature column\(s\) plan missing"):
        monitored_columns(reference, current.drop(columns="plan"), features=None, target=None,
                          current_name="window.csv")


def test_feature_missing_from_the_reference_names_the_reference():
    reference, current = frames()

    with pytest.raises(DataError, match=r"train.csv: feature column\(s\) plan missing"):
        monitored_columns(reference.drop(columns="plan"), current, features=["plan"],
                          target=None, reference_name="train.csv")


def test_target_and_prediction_are_monitored_only_where_both_have_them():
    reference, current = frames()
    reference["label"] = 1
    current["score"] = 0.5

    columns = monitored_columns(reference, current, features=None, target="label",
                                prediction="score")

    assert columns == ["steady", "shifted", "plan", "region"]
    current["label"] = 0
    assert monitored_columns(reference, current, features=["steady"], target="label") == [
        "steady", "label"]


def test_added_column_is_listed_not_monitored():
    reference, current = frames()
    current["new_feature"] = 1.0

    result = check(reference, current)

    assert result.added_columns == ["new_feature"]
    assert "new_feature" not in verdicts(result)


def test_type_change_is_reported_as_drift_of_that_column():
    reference, current = frames()
    current["steady"] = current["steady"].astype(str).where(current.index > 0, "n/a")

    result = check(reference, current)

    (steady,) = [c for c in result.columns if c.column == "steady"]
    assert steady.drifted and steady.method == "schema"
    assert "numerical in the reference, categorical in the current window" in steady.note


def test_empty_current_window_is_a_clear_error():
    reference, current = frames()

    with pytest.raises(DataError, match="window.csv: data set has no rows"):
        check(reference, current.iloc[:0])


def test_constant_columns():
    reference, current = frames()
    reference["flat"] = 1.0
    current["flat"] = 1.0
    reference["frozen"] = 3.0
    current["frozen"] = np.random.default_rng(1).normal(3, 1, ROWS)

    result = verdicts(check(reference, current))

    assert result["flat"] is False
    assert result["frozen"] is True


def test_all_null_columns():
    reference, current = frames()
    reference["gone"] = np.random.default_rng(2).normal(size=ROWS)
    current["gone"] = np.nan
    reference["never"] = np.nan
    current["never"] = np.nan

    result = check(reference, current)

    (gone,) = [c for c in result.columns if c.column == "gone"]
    assert gone.drifted and gone.method == "missing_values"
    assert gone.note == "all values missing in the current window"
    assert result.unmonitored == {"never": "no values in the reference or the current window"}


def test_unseen_categories_are_drift_and_named():
    reference, current = frames()
    current["region"] = np.random.default_rng(3).choice(["n", "s", "east", "west"], ROWS)

    result = check(reference, current)

    (region,) = [c for c in result.columns if c.column == "region"]
    assert region.drifted
    assert set(region.note.removeprefix("new values: ").split(", ")) == {"'east'", "'west'"}


def test_sampling_is_seeded_and_keeps_small_frames_whole():
    frame = pd.DataFrame({"x": range(10_000)})

    first, again, other = sample(frame, 500, 7), sample(frame, 500, 7), sample(frame, 500, 8)

    assert first.index.equals(again.index)
    assert not first.index.equals(other.index)
    assert len(first) == 500 and first.index.is_monotonic_increasing
    assert sample(frame, 20_000, 7) is frame
    assert sample(frame, None, 7) is frame


def test_sampled_result_counts_rows_before_and_after():
    reference, current = frames(rows=3000)

    result = check(reference, current, sample_size=1000, seed=1)

    assert (result.rows_reference, result.sampled_reference) == (3000, 1000)
    assert (result.rows_current, result.sampled_current) == (3000, 1000)
    assert verdicts(result) == {"steady": False, "shifted": True, "plan": True, "region": False}


def test_summary_fits_in_4_kb_with_drifted_columns_first():
    columns = [ColumnDrift(f"feature_{i:03}", "Wasserstein distance (normed)", 0.01 * i, 0.1,
                           i % 50 == 0) for i in range(300)]
    result = DriftResult(columns=columns, drift_share=0.5, rows_reference=10, rows_current=10,
                         sampled_reference=10, sampled_current=10)

    summary = result.summary(model="churn", report="x" * 500)

    assert len(json.dumps(summary).encode()) <= MAX_SUMMARY_BYTES
    assert summary["columns"] == 300 and summary["drifted_columns"] == 6
    assert summary["omitted_columns"] == 300 - len(summary["per_column"])
    assert all(summary["per_column"][c]["drifted"] for c in list(summary["per_column"])[:6])
    assert set(summary["per_column"]["feature_000"]) == {"method", "score", "threshold",
                                                         "drifted"}


def test_summary_clips_long_lists_but_keeps_what_the_retrain_request_reads():
    result = DriftResult(columns=[ColumnDrift("a", "ks", 0.01, 0.05, True)], drift_share=0.5,
                         rows_reference=1, rows_current=1, sampled_reference=1,
                         sampled_current=1, added_columns=[f"extra_{i}" for i in range(800)])

    summary = result.summary(champion_version="3", verdict={"dry_run": False})

    assert len(json.dumps(summary).encode()) <= MAX_SUMMARY_BYTES
    assert summary["added_columns"].startswith('["extra_0", "extra_1"')
    assert summary["per_column"]["a"]["drifted"] is True
    assert (summary["champion_version"], summary["verdict"]) == ("3", {"dry_run": False})


def test_method_list_matches_evidentlys_registry():
    import evidently.presets  # noqa: F401  (registers the stattests)
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    registered = {name: sorted(t.value for t in types if t.value in ("num", "cat"))
                  for name, types in _registered_stat_tests.items()}
    assert {m: sorted(k) for m, k in DRIFT_METHODS.items()} == {
        m: kinds for m, kinds in registered.items() if kinds}


@pytest.fixture
def champion(mlflow_session, tmp_path):
    """A registered model whose champion version records its training data."""
    from mlflow import MlflowClient

    reference, _ = frames()
    path = tmp_path / "train.csv"
    reference.to_csv(path, index=False)
    client = MlflowClient()
    client.create_registered_model("churn")

    def make(tags: dict[str, str] | None = None) -> str:
        recorded = {registry.tag("data_uri"): str(path),
                    registry.tag("data_fingerprint"): fingerprint(pd.read_csv(path)),
                    registry.tag("data_digest"): file_digest(path)}
        version = client.create_model_version("churn", "file:///nowhere",
                                              tags=recorded if tags is None else tags).version
        client.set_registered_model_alias("churn", registry.CHAMPION, version)
        return str(version)

    return client, path, make


def test_no_champion_is_its_own_error(champion):
    client, _, _ = champion

    with pytest.raises(NoChampionError, match="model 'churn' has no champion yet"):
        champion_reference(client, "churn")


def test_champion_without_recorded_reference_is_a_clear_error(champion):
    client, _, make = champion
    make(tags={})

    with pytest.raises(RegistryError, match="champion v1 records no training data.*"
                                            "drift.reference_uri"):
        champion_reference(client, "churn")
    assert champion_reference(client, "churn", "/data/train.csv").uri == "/data/train.csv"


def test_changed_reference_data_is_detected(champion):
    client, path, make = champion
    make()
    reference = champion_reference(client, "churn", roots=[str(path.parent)])
    assert reference.uri == str(path)
    verify_reference(pd.read_csv(path), reference)

    with pytest.raises(DataError, match="changed since model 'churn' v1 was trained"):
        verify_reference(pd.read_csv(path).iloc[1:], reference)


def test_monitor_drift_records_the_window_and_returns_a_small_summary(champion, tmp_path):
    client, _, make = champion
    make()
    _, current = frames()
    current_path = tmp_path / "window.csv"
    current.to_csv(current_path, index=False)

    checked = monitor_drift(
        model_name="churn", experiment_name="airflow-mlops/churn", window=WINDOW,
        data_uri=str(current_path), target=None, features=None, options=DriftOptions(),
        policy=FailurePolicy(on_failure="warn"), lineage={"dag_id": "d", "run_id": "r"},
        reference_roots=[str(tmp_path)], artifact_location=str(tmp_path / "artifacts"),
    )

    summary = checked.summary
    assert summary["drifted"] is True and summary["champion_version"] == "1"
    assert summary["verdict"]["outcome"] == "warn"
    assert summary["report"].endswith("drift/drift_report.html")
    assert len(json.dumps(summary)) <= MAX_SUMMARY_BYTES
    run = client.search_runs([client.get_experiment_by_name(
        "airflow-mlops/churn/monitoring").experiment_id])[0]
    assert run.data.tags[registry.tag("drifted")] == "true"
    assert {a.path for a in client.list_artifacts(run.info.run_id, "drift")} == {
        "drift/drift_report.html", "drift/drift_result.json"}


def monitor(tmp_path: Path, day: int, data_uri: str, **kwargs):
    """monitor_drift of one daily window, sampling 1000 rows, failing on drift."""
    start = dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc)
    return monitor_drift(
        model_name="churn", experiment_name="airflow-mlops/churn",
        window=Window(start, start + dt.timedelta(days=1), f"{start:%Y-%m-%d}"),
        data_uri=data_uri, target=None, **{"features": None, **kwargs},
        options=DriftOptions(sample_size=1000, seed=3), policy=FailurePolicy(on_failure="fail"),
        lineage={}, reference_roots=[str(tmp_path)],
        artifact_location=str(tmp_path / "artifacts"),
    )


def cached_samples(client) -> int:
    experiment = client.get_experiment_by_name("airflow-mlops/churn/monitoring")
    return len(client.search_runs([experiment.experiment_id],
                                  filter_string=f"tags.`{registry.tag('monitor')}` = 'cache'"))


@pytest.fixture
def window_csv(tmp_path) -> str:
    path = tmp_path / "window.csv"
    frames()[1].to_csv(path, index=False)
    return str(path)


def test_the_sampled_reference_is_cached_once_per_champion_and_reference_bytes(
        champion, tmp_path, window_csv):
    client, _, make = champion
    make()

    first = monitor(tmp_path, 2, window_csv).summary
    second = monitor(tmp_path, 3, window_csv).summary

    assert cached_samples(client) == 1
    assert first["rows"]["sampled_reference"] == second["rows"]["sampled_reference"] == 1000
    assert first["per_column"] == second["per_column"]


def test_the_reference_rows_reported_are_the_files_also_from_the_cache(
        champion, tmp_path, window_csv):
    client, train, make = champion
    frames(rows=3000, seed=5)[0].to_csv(train, index=False)
    make()

    first = monitor(tmp_path, 2, window_csv).summary["rows"]
    second = monitor(tmp_path, 3, window_csv).summary["rows"]

    assert cached_samples(client) == 1
    assert first == second
    assert (first["reference"], first["sampled_reference"]) == (3000, 1000)


def test_a_reference_changed_after_the_first_check_is_refused_until_restored(
        champion, tmp_path, window_csv):
    client, train, make = champion
    make()
    original = train.read_bytes()
    assert monitor(tmp_path, 2, window_csv).summary["drifted"] is True

    pd.read_csv(train).iloc[1:].to_csv(train, index=False)
    refused = monitor(tmp_path, 3, window_csv)

    assert refused.summary["drifted"] is None
    assert f"{train}: changed since model 'churn' v1 was trained on it" in (
        refused.summary["error"])
    assert refused.verdict.outcome.value == "fail"
    train.write_bytes(original)
    assert monitor(tmp_path, 4, window_csv).summary["drifted"] is True
    assert cached_samples(client) == 1
    train.write_bytes(original.replace(b"\n", b"\r\n"))  # the same rows in other bytes
    assert monitor(tmp_path, 5, window_csv).summary["drifted"] is True
    assert cached_samples(client) == 2


def test_a_reference_with_its_trained_bytes_is_sampled_while_read(
        champion, tmp_path, window_csv, monkeypatch):
    from airflow_mlops.core import drift

    _, train, make = champion
    make()

    def not_whole(*args, **kwargs):
        raise AssertionError("the reference was read whole to be fingerprinted")

    monkeypatch.setattr(drift, "read_table", not_whole)
    monkeypatch.setattr(drift, "fingerprint", not_whole)
    summary = monitor(tmp_path, 2, window_csv).summary

    current = pd.read_csv(window_csv)
    expected = check_drift(sample(pd.read_csv(train), 1000, 3), current,
                           columns=list(current.columns),
                           options=DriftOptions(sample_size=1000, seed=3))
    assert summary["per_column"] == expected.summary()["per_column"]


def test_an_unchanged_reference_file_is_not_read_again_for_its_digest(
        champion, tmp_path, window_csv, monkeypatch):
    import os

    from airflow_mlops.core import drift

    _, train, make = champion
    make()
    os.utime(train, (train.stat().st_mtime - 60,) * 2)  # written a minute ago
    first = monitor(tmp_path, 2, window_csv).summary

    def not_again(*args, **kwargs):
        raise AssertionError("the reference file was hashed again")

    monkeypatch.setattr(drift, "file_digest", not_again)
    assert monitor(tmp_path, 3, window_csv).summary["per_column"] == first["per_column"]


def test_a_given_reference_without_fingerprint_is_resampled_when_it_changes(
        champion, tmp_path, window_csv):
    client, _, make = champion
    make(tags={})
    reference = tmp_path / "reference.csv"
    frames()[0].to_csv(reference, index=False)

    before = monitor(tmp_path, 2, window_csv, reference_uri=str(reference)).summary
    frames()[1].to_csv(reference, index=False)  # now the window's own data
    after = monitor(tmp_path, 3, window_csv, reference_uri=str(reference)).summary

    assert (before["drifted"], after["drifted"]) == (True, False)
    assert cached_samples(client) == 2


def test_a_large_parquet_window_is_sampled_while_read_through_locate(champion, tmp_path):
    _, train, make = champion
    make()
    _, current = frames(rows=3000, seed=4)
    current.to_parquet(tmp_path / "window.parquet", row_group_size=500)

    checked = monitor(tmp_path, 2, "lake://window.parquet",
                      locate=lambda uri: tmp_path / uri.removeprefix("lake://"))

    summary = checked.summary
    assert summary["current"] == "lake://window.parquet"
    assert summary["rows"] == {"reference": len(pd.read_csv(train)), "current": 3000,
                               "sampled_reference": 1000,
                               "sampled_current": 1000}
    expected = check_drift(sample(pd.read_csv(train), 1000, 3), current,
                           columns=list(current.columns),
                           options=DriftOptions(sample_size=1000, seed=3))
    assert summary["per_column"] == expected.summary()["per_column"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_window_is_read_with_the_monitored_columns_only(champion, tmp_path, suffix):
    _, train, make = champion
    make()
    _, current = frames(rows=3000, seed=4)
    path = tmp_path / f"window{suffix}"
    # Unmonitored columns are not read: a changed type there is not drift, an added one is named.
    wide = current.assign(plan=range(3000), notes="free text")
    if suffix == ".csv":
        wide.to_csv(path, index=False)
    else:
        wide.to_parquet(path, row_group_size=500)

    summary = monitor(tmp_path, 2, str(path), features=["steady", "shifted"]).summary

    assert list(summary["per_column"]) == ["shifted", "steady"]
    assert summary["added_columns"] == ["notes"]
    assert summary["rows"]["current"] == 3000
    expected = check_drift(sample(pd.read_csv(train), 1000, 3), current,
                           columns=["steady", "shifted"],
                           options=DriftOptions(sample_size=1000, seed=3))
    assert summary["per_column"] == expected.summary()["per_column"]


def test_monitor_drift_turns_unusable_data_into_a_failed_check(champion, tmp_path):
    _, _, make = champion
    make()
    empty = tmp_path / "empty.csv"
    empty.write_text("steady,shifted,plan,region\n")

    checked = monitor_drift(
        model_name="churn", experiment_name="airflow-mlops/churn", window=WINDOW,
        data_uri=str(empty), target=None, features=None, options=DriftOptions(),
        policy=FailurePolicy(on_failure="fail"), lineage={}, reference_roots=[str(tmp_path)],
        artifact_location=str(tmp_path / "artifacts"),
    )

    assert checked.summary["drifted"] is None
    assert "empty.csv: data set has no rows" in checked.summary["error"]
    assert checked.verdict.outcome.value == "fail"
    assert "empty.csv: data set has no rows" in checked.verdict.message()


def write_config(folder, **drift) -> str:
    import yaml

    raw = {"name": "churn", "start_date": "2026-01-01", "data_uri": "/d/{{ ds }}.csv",
           "target": "churned", "features": ["tenure"], "suite": "s.json",
           "estimator": {"class": "sklearn.linear_model.LogisticRegression"}}
    path = folder / "model.yaml"
    path.write_text(yaml.safe_dump({**raw, "drift": drift} if drift else raw))
    return path


def test_configs_without_a_drift_section_get_the_defaults(tmp_path):
    from airflow_mlops.core.config import load_model_config

    drift = load_model_config(write_config(tmp_path)).drift

    assert (drift.drift_share, drift.sample_size, drift.on_failure) == (0.5, 100_000, "warn")
    assert (drift.trigger.windows, drift.trigger.min_drifted) == (3, 2)
    assert drift.quality is None


def test_drift_uris_expand_environment_variables(tmp_path, monkeypatch):
    from airflow_mlops.core.config import load_model_config

    monkeypatch.setenv("LAKE", "/mnt/lake")
    path = write_config(tmp_path, data_uri="$LAKE/scored/{{ ds }}.csv",
                        quality={"data_uri": "${LAKE}/labels.csv"})

    drift = load_model_config(path).drift

    assert drift.data_uri == "/mnt/lake/scored/{{ ds }}.csv"
    assert drift.quality.data_uri == "/mnt/lake/labels.csv"


@pytest.mark.parametrize("drift, field, message", [
    ({"method": "nope"}, "drift.method", "unknown drift method 'nope'"),
    ({"columns": {"tenure": {"method": "nope"}}}, "drift.columns", "unknown drift method 'nope'"),
    ({"columns": {"age": {"method": "ks"}}}, "drift.columns", "age not among"),
    ({"trigger": {"windows": 2, "min_drifted": 3}}, "drift.trigger",
     "min_drifted (3) exceeds windows (2)"),
    ({"quality": {"data_uri": "l.csv", "metric": "rmse"}}, "drift.quality.metric",
     "'rmse' is not a classification"),
    ({"on_failure": "explode"}, "drift.on_failure", ""),
])
def test_invalid_drift_sections_name_the_field(tmp_path, drift, field, message):
    from airflow_mlops.core.config import load_model_config

    with pytest.raises(ConfigError) as error:
        load_model_config(write_config(tmp_path, **drift))

    assert f"field '{field}" in str(error.value) and message in str(error.value)


def test_long_categories_are_cut_yet_stay_distinct():
    rng = np.random.default_rng(0)
    long_a, long_b = "x" * 5000 + "a", "x" * 5000 + "b"
    reference = pd.DataFrame({"note": rng.choice([long_a, "short"], ROWS)})
    current = pd.DataFrame({"note": rng.choice([long_b, "short"], ROWS)})

    result = check(reference, current)

    assert result.drifted_columns == ["note"]  # a and b differ only after the cut
    assert "x" * 5000 not in result.html
    assert result.html.count("(5001 characters, ") >= 2


@pytest.mark.parametrize("dtype", ["category", "string"])
def test_categorical_columns_of_pandas_own_dtypes_are_compared(dtype):
    reference, current = frames()

    result = check(reference[["plan"]].astype(dtype), current[["plan"]].astype(dtype))

    assert verdicts(result) == {"plan": True}
