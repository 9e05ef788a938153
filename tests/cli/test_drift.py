"""``airflow-mlops drift``: exit codes, text and JSON output, config, reports, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.cli.main import build_parser, main

ROWS = 1200


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frame(seed: int, shifted: bool = False) -> pd.DataFrame:
    """Churn-like rows; ``shifted`` moves tenure by two deviations and reverses plan's mix."""
    rng = np.random.default_rng(seed)
    mix = [0.1, 0.3, 0.6] if shifted else [0.6, 0.3, 0.1]
    return pd.DataFrame({
        "tenure": rng.normal(2.0 if shifted else 0.0, 1, ROWS),
        "calls": rng.normal(0, 1, ROWS),
        "plan": rng.choice(["a", "b", "c"], ROWS, p=mix),
        "churned": rng.integers(0, 2, ROWS),
    })


@pytest.fixture
def data(tmp_path) -> dict[str, Path]:
    """A reference CSV, a similar Parquet window and a shifted one."""
    paths = {"reference": tmp_path / "train.csv", "similar": tmp_path / "similar.parquet",
             "shifted": tmp_path / "shifted.parquet"}
    frame(1).to_csv(paths["reference"], index=False)
    frame(2).to_parquet(paths["similar"], index=False)
    frame(3, shifted=True).to_parquet(paths["shifted"], index=False)
    return paths


def write_config(folder: Path, features: list[str], **drift) -> Path:
    path = folder / "model.yaml"
    path.write_text(yaml.safe_dump({
        "name": "churn", "start_date": "2026-01-01", "data_uri": "/d/{{ ds }}.csv",
        "target": "churned", "features": features, "suite": "s.json",
        "estimator": {"class": "sklearn.linear_model.LogisticRegression"}, "drift": drift,
    }))
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["drift", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_drift_is_a_command_group_of_the_cli():
    args = build_parser().parse_args(["drift", "a.csv", "b.parquet", "--json"])

    assert (args.reference, args.current, args.json, args.config, args.report) == (
        "a.csv", "b.parquet", True, None, None)


def test_drift_exits_1_and_prints_a_table(data, capsys):
    before = {name: digest(path) for name, path in data.items()}

    code, out, _ = run(capsys, data["reference"], data["shifted"])

    assert code == EXIT_FAILED
    lines = out.splitlines()
    assert lines[0].startswith("drift: 2 of 4 columns drifted (share 0.50, limit 0.5): tenure")
    assert lines[1] == "rows: reference 1200 (compared 1200), current 1200 (compared 1200)"
    assert lines[3].split() == ["COLUMN", "METHOD", "SCORE", "THRESHOLD", "DRIFTED", "NOTE"]
    drifted = {line.split()[0]: line.split()[-1] for line in lines[4:8]}
    assert drifted == {"tenure": "yes", "calls": "no", "plan": "yes", "churned": "no"}
    assert {name: digest(path) for name, path in data.items()} == before


def test_no_drift_exits_0(data, capsys):
    code, out, _ = run(capsys, data["reference"], data["similar"])

    assert code == EXIT_OK
    assert out.startswith("no drift: 0 of 4 columns drifted")


def test_json_summary_and_report_files(data, tmp_path, capsys):
    code, out, _ = run(capsys, data["reference"], data["shifted"], "--json",
                       "--report", tmp_path / "report")

    summary = json.loads(out)
    assert code == EXIT_FAILED
    assert (summary["drifted"], summary["drifted_columns"], summary["columns"]) == (True, 2, 4)
    assert summary["per_column"]["tenure"]["drifted"] is True
    assert summary["report"] == str(tmp_path / "report" / "drift_report.html")
    assert "<html" in Path(summary["report"]).read_text()
    full = json.loads((tmp_path / "report" / "drift_result.json").read_text())
    assert full["evidently"]["metrics"] and full["summary"]["current"] == str(data["shifted"])


def test_a_model_config_chooses_columns_methods_and_sampling(data, tmp_path, capsys):
    config = write_config(tmp_path, ["tenure", "calls"], drift_share=0.3, sample_size=500,
                          sample_seed=4, columns={"tenure": {"method": "ks",
                                                             "threshold": 0.01}})

    code, out, _ = run(capsys, data["reference"], data["shifted"], "--config", config, "--json")

    summary = json.loads(out)
    assert code == EXIT_FAILED, "1 of 3 columns reaches the configured share of 0.3"
    assert list(summary["per_column"]) == ["tenure", "calls", "churned"]
    assert summary["per_column"]["tenure"]["threshold"] == 0.01
    assert summary["rows"] == {"reference": 1200, "current": 1200, "sampled_reference": 500,
                               "sampled_current": 500}
    config = write_config(tmp_path, ["tenure", "calls"])
    assert run(capsys, data["reference"], data["shifted"], "--config", config)[0] == EXIT_OK


@pytest.mark.parametrize("case", ["missing file", "missing column", "invalid config"])
def test_unusable_input_exits_2_naming_what_is_wrong(data, tmp_path, capsys, case):
    reference, current, extra = data["reference"], data["shifted"], []
    if case == "missing file":
        current, expected = tmp_path / "nope.parquet", f"{tmp_path / 'nope.parquet'}: data set"
    elif case == "missing column":
        extra = ["--config", write_config(tmp_path, ["tenure", "age"])]
        expected = f"{reference}: feature column(s) age missing"
    else:
        extra = ["--config", write_config(tmp_path, ["tenure"], drift_share=2)]
        expected = "field 'drift.drift_share'"

    code, out, err = run(capsys, reference, current, *extra)

    assert (code, out) == (EXIT_UNUSABLE, "")
    assert err.startswith("error: ") and expected in err
