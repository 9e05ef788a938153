"""Everything the Models page shows, gathered from the configs, Airflow's DB and MLflow."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops.core.config import ModelConfig, load_model_config
from airflow_mlops.plugins.nights import Approval, Night, last_nights, pending_approvals
from airflow_mlops.plugins.registry_state import ModelState, StateCache
from airflow_mlops.templates.factory import CONFIGS_ENV, config_files
from airflow_mlops.templates.retrain import DAG_ID_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CONFIGS_OPTION = "configs_folder"


@dataclass(frozen=True)
class ModelView:
    """One model's row on the page."""

    config: ModelConfig
    dag_id: str
    state: ModelState
    nights: list[Night] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)


@dataclass(frozen=True)
class BrokenConfig:
    """A config file the factory cannot load: shown with its error, not hidden."""

    path: Path
    error: str


def configs_folder() -> Path:
    """Config ``[mlops] configs_folder``, else ``$AIRFLOW_MLOPS_CONFIGS``, else ``models/``
    in the DAGs folder: where the DAG files of the templates find their configs."""
    from airflow.configuration import conf

    configured = conf.get("mlops", CONFIGS_OPTION, fallback=None) or os.environ.get(CONFIGS_ENV)
    return Path(configured) if configured else Path(conf.get("core", "dags_folder")) / "models"


class ConfigCache:
    """The model configs of a folder, each loaded again only when its file changed."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple[float, ModelConfig | BrokenConfig]] = {}

    def load(self, folder: Path) -> list[ModelConfig | BrokenConfig]:
        """Each config in ``folder`` (name order); a broken one as :class:`BrokenConfig`."""
        found = []
        for path in config_files(folder):
            mtime = path.stat().st_mtime
            cached = self._loaded.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, _load(path))
                self._loaded[path] = cached
            found.append(cached[1])
        return found


def _load(path: Path) -> ModelConfig | BrokenConfig:
    try:
        return load_model_config(path)
    except Exception as exc:  # shown on the page; the other models stay readable
        return BrokenConfig(path, str(exc))


def gather(
    session: Session, configs: list[ModelConfig | BrokenConfig], states: StateCache,
    *, permitted: set[str],
) -> tuple[list[ModelView], list[BrokenConfig]]:
    """The page's models whose retrain DAG is in ``permitted``, and the broken configs.

    A model whose last night ended after its state was read is read again (see
    :meth:`StateCache.states`): the page never shows a night next to an older champion.
    """
    models = [c for c in configs if isinstance(c, ModelConfig)
              and f"{DAG_ID_PREFIX}_{c.name}" in permitted]
    broken = [c for c in configs if isinstance(c, BrokenConfig)]
    dag_ids = [f"{DAG_ID_PREFIX}_{c.name}" for c in models]
    nights = last_nights(session, dag_ids)
    approvals = pending_approvals(session, dag_ids)
    ended = {c.name: max((n.ended for n in nights.get(dag_id, []) if n.ended), default=None)
             for c, dag_id in zip(models, dag_ids, strict=True)}
    model_states = states.states(((c.mlflow_conn_id, c.name, c.experiment_name) for c in models),
                                 changed_at={name: at for name, at in ended.items() if at})
    views = [
        ModelView(config=c, dag_id=dag_id, state=model_states[c.name],
                  nights=nights.get(dag_id, []), approvals=approvals.get(dag_id, []))
        for c, dag_id in zip(models, dag_ids, strict=True)
    ]
    return views, broken
