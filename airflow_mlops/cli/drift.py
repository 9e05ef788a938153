"""``airflow-mlops drift REFERENCE CURRENT``: the drift check of the operator, run locally.

Columns and drift options come from a model config (``--config``: its target, features and
``drift`` section) or, without one, are every column of the reference and the defaults. Both
data sets are sampled as the operator samples windows. Exit code 0: no drift; 1: drift;
2: unusable input (a file, a column or the config; the message names it).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, table

if TYPE_CHECKING:
    from airflow_mlops.core.drift import DriftOptions, DriftResult

TABLE_COLUMNS = ("column", "method", "score", "threshold", "drifted", "note")


def drift_settings(config_path: str | None) -> tuple[DriftOptions, dict[str, Any]]:
    """Drift options and the monitored columns' roles (features, target, prediction)."""
    from airflow_mlops.core.drift import DriftOptions

    if config_path is None:
        return DriftOptions(), {"features": None, "target": None, "prediction": None}
    from airflow_mlops.core.config import load_model_config

    config = load_model_config(config_path)
    drift = config.drift
    options = DriftOptions(
        drift_share=drift.drift_share, method=drift.method, threshold=drift.threshold,
        columns={c: s.model_dump(exclude_none=True) for c, s in drift.columns.items()},
        sample_size=drift.sample_size,
        seed=config.seed if drift.sample_seed is None else drift.sample_seed,
    )
    return options, {"features": config.features, "target": config.target,
                     "prediction": drift.prediction}


def format_result(result: DriftResult, summary: dict) -> str:
    """A headline, the row counts, then one table row per monitored column."""
    rows = summary["rows"]
    lines = [
        f"{'drift' if result.drifted else 'no drift'}: {result.reason()}",
        f"rows: reference {rows['reference']} (compared {rows['sampled_reference']}), "
        f"current {rows['current']} (compared {rows['sampled_current']})",
    ]
    cells = [tuple(c.upper() for c in TABLE_COLUMNS)]
    for column in result.columns:
        data = column.to_dict()
        cells.append((column.column, column.method, str(data["score"]),
                      "" if column.threshold is None else str(column.threshold),
                      "yes" if column.drifted else "no", column.note))
    lines += ["", table(cells)]
    if result.added_columns:
        lines.append(f"not monitored, only in the current data: {', '.join(result.added_columns)}")
    lines += [f"not monitored: {column} ({why})" for column, why in result.unmonitored.items()]
    if summary.get("report"):
        lines += ["", f"report: {summary['report']}"]
    return "\n".join(lines)


def write_report(folder: str, summary: dict, result: DriftResult) -> str:
    """The HTML report and the full JSON result in ``folder``; the HTML report's location."""
    from airflow_mlops.core.drift import REPORT_FILE, report_files
    from airflow_mlops.core.reports import write_files

    return write_files(folder, report_files(summary, result), REPORT_FILE)


def _drift(args: argparse.Namespace) -> int:
    from airflow_mlops.core.drift import check_drift, monitored_columns, window_columns
    from airflow_mlops.core.io import read_sample

    options, roles = drift_settings(args.config)
    reference = read_sample(args.reference, size=options.sample_size, seed=options.seed)
    current = read_sample(args.current, size=options.sample_size, seed=options.seed,
                          columns=window_columns(reference.columns, **roles))
    columns = monitored_columns(reference.columns, current.columns, **roles,
                                reference_name=args.reference, current_name=args.current)
    result = check_drift(reference.frame, current.frame, columns=columns, options=options,
                         current_name=args.current, rows_reference=reference.rows,
                         rows_current=current.rows, current_columns=current.columns)
    summary = result.summary(reference=args.reference, current=args.current)
    if args.report:
        summary["report"] = write_report(args.report, summary, result)
    print(json.dumps(summary, indent=2) if args.json else format_result(result, summary))
    return EXIT_FAILED if result.drifted else EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``drift`` command's arguments."""
    parser.description = "Exit code 0: no drift; 1: drift; 2: a data set or the config is unusable."
    parser.add_argument("reference", help="reference CSV or Parquet file (e.g. training data)")
    parser.add_argument("current", help="CSV or Parquet file to compare with it")
    parser.add_argument("--config", metavar="MODEL_YAML",
                        help="model config: its target, features and drift section")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--report", metavar="DIR",
                        help="also write Evidently's HTML report and the full JSON result here")
    parser.set_defaults(handler=_drift)
