"""The airflow-mlops demo: three nights of the nightly retrain template on embedded stores.

Everything lives under .demo/ (git-ignored, or ``--home``), which is wiped at the start of
every run: an Airflow home with a SQLite metadata DB, an MLflow SQLite store with local
artifacts, and the nightly data partitions as they "arrive". The terminal gets a few lines
per night and a table; Airflow's own logs go to a file under it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / ".demo"
LOG_FILE = "airflow.log"
DATASET = REPO / "demo" / "data" / "customers.csv"
DAG_FILE = REPO / "dags" / "nightly_retrain.py"
NIGHTS = [dt.datetime(2026, 1, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]
CORRUPTED_NIGHT = 3
MODEL = "churn"


def demo_environment(home: Path) -> dict[str, str]:
    """Environment that points Airflow and MLflow at stores inside ``home``."""
    tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    return {
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps({
            "conn_type": "mlflow",
            "host": tracking_uri,
            "extra": {"artifact_location": str(home / "mlflow" / "artifacts")},
        }),
        "AIRFLOW_MLOPS_DATA_ROOT": str(home / "data"),
        "GX_ANALYTICS_ENABLED": "False",
    }


def land_partition(home: Path, night: int, logical_date: dt.datetime) -> Path:
    """Write the night's slice of the bundled data set where the DAG expects it."""
    import pandas as pd

    frame = pd.read_csv(DATASET)
    size = len(frame) // len(NIGHTS)
    part = frame.iloc[(night - 1) * size : night * size].copy()
    if night == CORRUPTED_NIGHT:
        part = corrupt(part)
    target = home / "data" / "customers" / f"ds={logical_date:%Y-%m-%d}" / "customers.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    part.to_csv(target, index=False)
    return target


def corrupt(part):
    """What a broken upstream export looks like: bad values, a new category, duplicates."""
    part = part.copy()
    part.loc[part.index[:40], "tenure_months"] = -1
    part.loc[part.index[40:60], "contract"] = "three-year"
    part.loc[part.index[60:80], "customer_id"] = part["customer_id"].iloc[0]
    return part


def xcom(run_id: str, task_id: str, dag_id: str):
    """The return value a task of the run pushed, or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, key="return_value")
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def champion_version(tracking_uri: str, model: str) -> str | None:
    from mlflow import MlflowClient

    from airflow_mlops.core.registry import CHAMPION, alias_version

    return alias_version(MlflowClient(tracking_uri, tracking_uri), model, CHAMPION)


def metric_of(decision: dict, side: str, metric: str) -> str:
    """One side's primary metric from the evaluation's decision, formatted for the table."""
    value = (decision.get(side) or {}).get(metric)
    return "-" if value is None else f"{value:.4f}"


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send everything written to stdout and stderr (Airflow's logs, tracebacks) to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("a") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def night_lines(night: int, logical_date: dt.datetime, state: str, validation: dict,
                decision: dict, champion: str | None) -> list[str]:
    """What a night did, in a few lines: validation, then the decision or the failed checks."""
    head = f"night {night} ({logical_date:%Y-%m-%d}): run {state}"
    if not validation:
        return [f"{head}; validation did not run"]
    if not validation.get("success"):
        lines = [f"{head}; validation FAILED {validation.get('failed')} of "
                 f"{validation.get('evaluated')} checks on {validation.get('rows')} rows, "
                 "nothing trained:"]
        for failure in validation.get("failures", []):
            examples = ", ".join(map(str, failure.get("examples", [])[:3]))
            lines.append(f"  {failure.get('column') or '(table)'}: {failure['expectation']}: "
                         f"{failure['reason']}" + (f"; e.g. {examples}" if examples else ""))
        return lines
    metric = decision.get("primary_metric", "roc_auc")
    return [f"{head}; validation passed on {validation.get('rows')} rows",
            f"  challenger v{decision.get('challenger_version', '-')} {metric} "
            f"{metric_of(decision, 'challenger_metrics', metric)} vs champion "
            f"{metric_of(decision, 'champion_metrics', metric)}: "
            f"{decision.get('verdict', '-')}; champion now v{champion or '-'}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=HOME, help="where the demo keeps its state")
    home = parser.parse_args(argv).home.resolve()
    shutil.rmtree(home, ignore_errors=True)
    env = demo_environment(home)
    os.environ.update(env)
    (home / "mlflow").mkdir(parents=True)
    log = home / LOG_FILE
    print(f"airflow-mlops demo: {len(NIGHTS)} nights of {DAG_FILE.relative_to(REPO)}; "
          f"Airflow's logs go to {log}", flush=True)
    with output_to(log):
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True)
        import runpy

        (dag,) = runpy.run_path(str(DAG_FILE))["dags"]
    tracking_uri = json.loads(env["AIRFLOW_CONN_MLFLOW_DEFAULT"])["host"]
    rows = []
    for night, logical_date in enumerate(NIGHTS, start=1):
        land_partition(home, night, logical_date)
        with output_to(log):
            run = dag.test(logical_date=logical_date)
            validation = xcom(run.run_id, "validate", dag.dag_id) or {}
            decision = xcom(run.run_id, "evaluate", dag.dag_id) or {}
            champion = champion_version(tracking_uri, MODEL)
        print("\n".join(night_lines(night, logical_date, run.state, validation, decision,
                                    champion)), flush=True)
        metric = decision.get("primary_metric", "roc_auc")
        rows.append({
            "night": night,
            "date": f"{logical_date:%Y-%m-%d}",
            "run": run.state,
            "rows": validation.get("rows", "-"),
            "validation": {True: "passed", False: f"FAILED ({validation.get('failed')} checks)"}
            .get(validation.get("success"), "-"),
            f"challenger {metric}": metric_of(decision, "challenger_metrics", metric),
            f"champion {metric}": metric_of(decision, "champion_metrics", metric),
            "decision": decision.get("verdict", "blocked: validation"),
            "champion after": champion or "-",
        })
    print_table(rows)
    print(f"\nnight {CORRUPTED_NIGHT} failed on purpose: validation stopped a corrupted "
          f"partition before training. Full logs: {log}")
    where = f"--tracking-uri {tracking_uri}"
    print(f"\nThe champion's model card: airflow-mlops models card {MODEL} {where}\n"
          f"Rebuild version 1 from its records: airflow-mlops models reproduce {MODEL} 1 {where}")
    return 0


def print_table(rows: list[dict]) -> None:
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    print("\n" + line + "\n" + "-" * len(line))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths, strict=False)))


if __name__ == "__main__":
    sys.exit(main())
