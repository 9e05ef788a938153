"""``airflow-mlops config check``: validate model configs for CI or a pre-commit hook."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

from airflow_mlops.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from airflow_mlops.core.errors import MlopsError

DEFAULT_FOLDER = Path("dags") / "models"


def _config_files(paths: list[Path]) -> Iterator[Path]:
    from airflow_mlops.templates.factory import config_files

    for path in paths:
        yield from config_files(path) if path.is_dir() else [path]


def _alert_problems(config) -> list[str]:
    from airflow_mlops.templates.alerts import resolve_notifier

    found = []
    for event, specs in (("on_failure", config.alerts.on_failure),
                         ("on_promotion", config.alerts.on_promotion)):
        for index, spec in enumerate(specs):
            try:
                resolve_notifier(spec.notifier)
            except MlopsError as exc:
                found.append(f"field 'alerts.{event}.{index}.notifier': {exc}")
    return found


def _build_problems(config) -> list[str]:
    from airflow_mlops.templates.drift import build_drift_dag
    from airflow_mlops.templates.retrain import build_retrain_dag

    found = []
    for builder in (build_retrain_dag, build_drift_dag):
        try:
            builder(config).validate()
        except Exception as exc:  # whatever the template raises is this config's problem
            found.append(f"{builder.__name__}: {exc}")
    return found


def check(paths: list[Path]) -> tuple[int, list[str]]:
    """(exit code, report lines) for the configs in ``paths`` (files or folders); what the
    configs share (imports, suites, pipelines) is done once."""
    from airflow_mlops.core.config import load_model_config
    from airflow_mlops.core.config_check import ConfigChecker

    missing = [path for path in paths if not path.exists()]
    if missing:
        return EXIT_UNUSABLE, [f"{path}: no such file or folder" for path in missing]
    lines, broken, owners, checker = [], 0, {}, ConfigChecker()
    files = list(_config_files(paths))
    if not files:
        return EXIT_UNUSABLE, [f"no model configs (*.yaml, *.yml) in {', '.join(map(str, paths))}"]
    for path in files:
        try:
            config = load_model_config(path)
        except MlopsError as exc:
            broken += 1
            lines.append(f"FAIL {exc}")
            continue
        problems = checker.check(path, config) + _alert_problems(config)
        if config.name in owners:
            problems.append(f"field 'name': '{config.name}' is already used by "
                            f"{owners[config.name]}")
        owners.setdefault(config.name, path)
        problems += [] if problems else _build_problems(config)
        broken += bool(problems)
        lines += [f"FAIL {path}: {p}" for p in problems] or [f"ok   {path} (model {config.name})"]
    lines.append(f"{len(files) - broken} of {len(files)} configs ok")
    return (EXIT_FAILED if broken else EXIT_OK), lines


def _check(args: argparse.Namespace) -> int:
    paths = args.paths or [Path(os.environ.get("AIRFLOW_MLOPS_CONFIGS", DEFAULT_FOLDER))]
    code, lines = check(paths)
    print("\n".join(lines))
    return code


def add_arguments(config: argparse.ArgumentParser) -> None:
    """The ``config`` command group's actions."""
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check_parser = actions.add_parser(
        "check", help="validate model configs (schema, suite, imports, DAG build)",
        description="Exit code 0: every config is valid; 1: a config is broken; 2: none found.",
    )
    check_parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH",
        help="config files or folders (default: $AIRFLOW_MLOPS_CONFIGS, else dags/models)",
    )
    check_parser.set_defaults(handler=_check)
