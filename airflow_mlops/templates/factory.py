"""build_dags: one DAG per model config in a folder; a broken config hurts no other model.

A DAG file calls it once per template::

    dags = build_dags(build_retrain_dag, configs_folder(__file__), dag_id_prefix="nightly_retrain")

Configs are read from the folder on every parse (no Airflow Variable or database lookup);
a file whose bytes and settings are unchanged since it last passed every check is validated
from :mod:`airflow_mlops.core.config_cache` instead of its YAML.
A config that fails to load or build becomes a paused, unscheduled DAG under the id the model
would have had: its description and docs show the error in the Airflow UI, and its one task
fails with that error when run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import DAG, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops.core.config import ModelConfig, load_model_config, peek_name
from airflow_mlops.core.errors import ConfigError

if TYPE_CHECKING:
    from airflow.sdk import Context

CONFIGS_ENV = "AIRFLOW_MLOPS_CONFIGS"
CONFIG_SUFFIXES = (".yaml", ".yml")
BROKEN_TAG = "config-error"

log = logging.getLogger(__name__)


def configs_folder(dag_file: str | os.PathLike) -> Path:
    """``$AIRFLOW_MLOPS_CONFIGS`` when set, else the ``models/`` folder next to ``dag_file``."""
    configured = os.environ.get(CONFIGS_ENV)
    return Path(configured) if configured else Path(dag_file).parent / "models"


def config_files(folder: Path) -> list[Path]:
    """The model configs in ``folder`` (``*.yaml``, ``*.yml``), in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())


class ConfigErrorOperator(BaseOperator):
    """Fail with the config's error: a run of a broken model must not look green.

    The message may quote the config, so it is no template field: it is never rendered.
    """

    template_fields: Sequence[str] = ()

    def __init__(self, *, message: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.message = message

    def execute(self, context: Context) -> None:
        raise AirflowFailException(self.message)


def broken_config_dag(dag_id: str, path: Path, error: str) -> DAG:
    """A paused DAG that shows a broken config's error in the Airflow UI."""
    with DAG(
        dag_id=dag_id,
        description=f"Broken model config {path.name}: {error}",
        doc_md=f"### Broken model config\n\n`{path}`\n\n```\n{error}\n```\n\n"
        "Fix the file (check it with `airflow-mlops config check`); the model's DAG "
        "returns on the next parse.",
        schedule=None,
        start_date=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        is_paused_upon_creation=True,
        tags=["airflow-mlops", BROKEN_TAG],
    ) as dag:
        ConfigErrorOperator(task_id="config_error", message=error)
    return dag


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _load(path: Path) -> ModelConfig | Exception:
    try:
        return load_model_config(path)
    except Exception as exc:  # any error in one config must not hide the other models
        return exc


def build_dags(
    builder: Callable[[ModelConfig], DAG], folder: Path, *, dag_id_prefix: str
) -> list[DAG]:
    """``builder``'s DAG for each config in ``folder``; a broken config's error DAG instead.

    ``builder`` names its DAG ``{dag_id_prefix}_{model name}``, and so does the error DAG
    of a broken config whose name is readable and not taken. Two configs naming the same
    model: the first file (in name order) wins, the second is reported as broken.
    """
    loaded = [(path, _load(path)) for path in config_files(folder)]
    owners: dict[str, Path] = {}
    for path, config in loaded:
        if isinstance(config, ModelConfig):
            owners.setdefault(config.name, path)
    dags = []
    for path, config in loaded:
        name = None
        if not isinstance(config, ModelConfig):
            error, name = config, peek_name(path)
            name = None if name in owners else name
        elif owners[config.name] != path:
            error = ConfigError(
                f"{path}: model name '{config.name}' is already used by {owners[config.name]}"
            )
        else:
            try:
                dag = builder(config)
                dag.validate()  # e.g. a bad cron: the DagBag would fail the whole file
                dags.append(dag)
                continue
            except Exception as exc:  # a builder error is this model's alone, too
                error, name = exc, config.name
        log.error("Model config %s is broken: %s", path, error)
        suffix = name or f"{_slug(path.stem)}_{BROKEN_TAG}"
        dags.append(broken_config_dag(f"{dag_id_prefix}_{suffix}", path, str(error)))
    return dags
