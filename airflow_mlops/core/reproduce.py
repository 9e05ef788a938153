"""Rebuilding a registered version from what its training recorded, to prove it can be.

The version's tags name the data (URI and digest of its bytes); its run's tags hold the
training spec (target, features, task, estimator, holdout fraction, seed) and the library
versions of the fit. The data is refused unless its bytes still match the digest. The model
is fitted again on the same split and scored on the same held-out rows; nothing is logged,
registered or moved.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import DataError, RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Reproduction:
    """Recorded versus rebuilt metrics of one version, and the library versions of both fits.

    ``differences`` names each metric farther apart than ``tolerance``; ``matches`` is true
    when there is none. Library differences are reported, not judged.
    """

    model: str
    version: str
    data_uri: str
    tolerance: float
    recorded: dict[str, float]
    reproduced: dict[str, float]
    differences: dict[str, dict[str, float | None]] = field(default_factory=dict)
    library_differences: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """Whether every recorded metric was reproduced within the tolerance."""
        return not self.differences

    def to_dict(self) -> dict:
        """The reproduction as plain JSON types."""
        return {**asdict(self), "matches": self.matches}


def recorded_training(client: MlflowClient, model: str, version: str) -> dict:
    """What the version's training recorded: data URI and digest, spec, libraries, metrics.

    :raises RegistryError: the version is unknown or was trained without these records.
    """
    from mlflow.exceptions import MlflowException

    from airflow_mlops.core import registry
    from airflow_mlops.core.training import LIBRARIES_TAG, TRAINING_SPEC_TAG

    try:
        found = client.get_model_version(model, str(version))
    except MlflowException as exc:
        if exc.error_code in registry.NOT_FOUND_CODES:
            raise RegistryError(f"model '{model}' has no version {version}") from None
        raise
    tags = found.tags
    run = client.get_run(found.run_id) if found.run_id else None
    spec = run.data.tags.get(registry.tag(TRAINING_SPEC_TAG)) if run else None
    data_uri, digest = tags.get(registry.tag("data_uri")), tags.get(registry.tag("data_digest"))
    if not (spec and data_uri and digest):
        raise RegistryError(
            f"model '{model}' v{version} cannot be reproduced: its training recorded no "
            "training spec, data URI or data digest (registered by hand, or before they were "
            "recorded)"
        )
    return {
        "data_uri": data_uri,
        "data_digest": digest,
        "spec": json.loads(spec),
        "libraries": json.loads(run.data.tags.get(registry.tag(LIBRARIES_TAG), "{}")),
        "metrics": dict(run.data.metrics),
    }


def verified_data(data_uri: str, digest: str, *, what: str):
    """The data set at ``data_uri``, if its bytes still have ``digest``.

    :raises DataError: the data is gone or changed since training.
    """
    from airflow_mlops.core.io import file_digest, read_table

    try:
        found = file_digest(data_uri)
    except DataError as exc:
        raise DataError(f"{what} cannot be reproduced: its training data is gone: {exc}") from None
    if found != digest:
        raise DataError(
            f"{what} cannot be reproduced: its training data {data_uri} changed since training "
            f"(digest {found}, recorded {digest})"
        )
    return read_table(data_uri)


def reproduce(client: MlflowClient, model: str, version: str,
              tolerance: float = DEFAULT_TOLERANCE) -> Reproduction:
    """Fit ``version`` again from its records and compare the metrics with the recorded ones.

    :raises RegistryError: nothing to reproduce from (see :func:`recorded_training`).
    :raises DataError: the training data is gone or changed.
    """
    from airflow_mlops.core.estimators import build_model
    from airflow_mlops.core.metrics import score
    from airflow_mlops.core.splits import split
    from airflow_mlops.core.training import library_versions

    what = f"model '{model}' v{version}"
    record = recorded_training(client, model, version)
    spec = record["spec"]
    frame = verified_data(record["data_uri"], record["data_digest"], what=what)
    parts = split(frame, target=spec["target"], features=spec["features"],
                  holdout_fraction=spec["holdout_fraction"], seed=spec["seed"], task=spec["task"])
    rebuilt = build_model(spec["estimator"], parts.train_features)
    rebuilt.fit(parts.train_features, parts.train_target)
    reproduced = score(rebuilt, parts.holdout_features, parts.holdout_target, spec["task"])
    recorded = record["metrics"]
    differences = {
        name: {"recorded": recorded.get(name), "reproduced": reproduced.get(name)}
        for name in sorted(reproduced)
        if not _close(recorded.get(name), reproduced.get(name), tolerance)
    }
    now = library_versions()
    libraries = {
        name: {"recorded": record["libraries"].get(name), "now": now.get(name)}
        for name in sorted(set(record["libraries"]) | set(now))
        if record["libraries"].get(name) != now.get(name)
    }
    return Reproduction(model=model, version=str(version), data_uri=record["data_uri"],
                        tolerance=tolerance, recorded=recorded, reproduced=reproduced,
                        differences=differences, library_differences=libraries)


def _close(recorded: float | None, reproduced: float | None, tolerance: float) -> bool:
    if recorded is None or reproduced is None:
        return False
    if math.isnan(recorded) or math.isnan(reproduced):
        return math.isnan(recorded) and math.isnan(reproduced)
    return abs(recorded - reproduced) <= tolerance
