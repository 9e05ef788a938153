"""A registered model version as its consumers get it: downloaded, checked, then loaded.

Deployment, evaluation and the quality check never load ``models:/...`` URIs directly: they
download the version once, refuse it unless its MLmodel passes
:func:`~airflow_mlops.core.serialization.check_loadable`, hash the downloaded files, and load
exactly those files. The smoke check records that hash on the version (tag ``smoke_check``);
later steps refuse files that differ from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.io import short
from airflow_mlops.core.serialization import check_loadable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

SMOKE_TAG = "smoke_check"
PYFUNC_LOADER = "mlflow.sklearn"


@dataclass(frozen=True)
class FetchedModel:
    """A model version's files in a local folder, checked against our allow-list."""

    model: str
    version: str
    path: Path
    digest: str
    signature: ModelSignature | None

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    @property
    def label(self) -> str:
        return f"model '{self.model}' v{self.version}"


def folder_digest(folder: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def schema_reason(exc: Exception) -> str:
    """MLflow's schema errors quote the whole input first; keep the part that explains."""
    text = str(exc)
    return text.rsplit("Error: ", 1)[-1].strip() if "Error: " in text else short(exc)


def require_version(client: MlflowClient, model: str, version: str) -> None:
    """Fail clearly when the registry has no such version."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(model, version)
    except MlflowException as exc:
        if exc.error_code in registry.NOT_FOUND_CODES:
            raise RegistryError(
                f"model '{model}' v{version}: no such version in the registry"
            ) from None
        raise


def _check_pyfunc(flavors: dict, label: str) -> None:
    """Refuse a ``python_function`` flavor that would import anything but MLflow's sklearn
    loader, put code shipped with the model on the import path, or load other files than
    the model file :func:`check_loadable` vetted.

    MLflow joins ``data`` and ``model_path`` onto the model folder (an absolute path replaces
    it) and the sklearn loader then reads the MLmodel next to whatever ``data`` names, so
    either could load files the hash does not cover, in a format nobody checked.
    """
    pyfunc = flavors.get("python_function", {})
    loader = pyfunc.get("loader_module")
    code = pyfunc.get("code") or flavors["sklearn"].get("code")
    if loader != PYFUNC_LOADER or code:
        shipped = f" with code path {code!r}" if code else ""
        raise RegistryError(
            f"{label}: its MLmodel loads through {loader!r}{shipped}; only {PYFUNC_LOADER} "
            "without code paths is loaded"
        )
    if "data" in pyfunc:
        raise RegistryError(
            f"{label}: its python_function flavor loads data from {pyfunc['data']!r}; "
            "refusing to load it"
        )
    model_file = flavors["sklearn"]["pickled_model"]
    if pyfunc.get("model_path") != model_file:
        raise RegistryError(
            f"{label}: its python_function flavor loads {pyfunc.get('model_path')!r}, not the "
            f"model file {model_file!r}; refusing to load it"
        )


def fetch_version(client: MlflowClient, model: str, version: str, folder: Path) -> FetchedModel:
    """Download ``models:/model/version`` into ``folder`` and check its MLmodel.

    :raises RegistryError: the version does not exist, or its MLmodel is missing, asks
        for pickle, trusts types outside the allow-list, or loads through other code than
        MLflow's sklearn loader or other files than its model file.
    """
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    require_version(client, model, version)
    label, uri = f"model '{model}' v{version}", f"models:/{model}/{version}"
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder)))
    try:
        meta = Model.load(str(local))
    except (OSError, ValueError, MlflowException) as exc:
        raise RegistryError(f"{label}: MLmodel of {uri} cannot be read: {short(exc)}") from None
    check_loadable(meta.flavors.get("sklearn", {}), label)
    _check_pyfunc(meta.flavors, label)
    return FetchedModel(model, str(version), local, folder_digest(local), meta.signature)


def load_pyfunc(fetched: FetchedModel) -> PyFuncModel:
    """Load the checked files as a consumer would (``mlflow.pyfunc``).

    :raises RegistryError: the files cannot be loaded (missing, truncated or tampered).
    """
    import mlflow.pyfunc

    try:
        return mlflow.pyfunc.load_model(str(fetched.path))
    except Exception as exc:  # each loader (skops, zipfile, sklearn) raises its own errors
        raise RegistryError(
            f"{fetched.label}: cannot be loaded from {fetched.uri}: {short(exc)}"
        ) from None


def load_sklearn(fetched: FetchedModel) -> Any:
    """Load the checked files as the scikit-learn estimator itself (``mlflow.sklearn``).

    :raises RegistryError: the files cannot be loaded (missing, truncated or tampered).
    """
    import mlflow.sklearn

    try:
        return mlflow.sklearn.load_model(str(fetched.path))
    except Exception as exc:  # each loader (skops, zipfile, sklearn) raises its own errors
        raise RegistryError(
            f"{fetched.label}: cannot be loaded from {fetched.uri}: {short(exc)}"
        ) from None


def smoke_record(client: MlflowClient, model: str, version: str) -> dict | None:
    """The smoke check recorded on a version, or None when it has not been checked."""
    text = client.get_model_version(model, version).tags.get(registry.tag(SMOKE_TAG))
    return json.loads(text) if text else None


def verify_smoke_checked(client: MlflowClient, fetched: FetchedModel) -> bool:
    """Whether the files are those the smoke check passed; False when it never ran.

    :raises RegistryError: the smoke check failed on this version, or its files changed
        since it passed.
    """
    record = smoke_record(client, fetched.model, fetched.version)
    if record is None:
        return False
    if not record.get("passed"):
        raise RegistryError(
            f"{fetched.label}: failed its smoke check ({record.get('error')}); refusing to use it"
        )
    if record.get("digest") != fetched.digest:
        raise RegistryError(
            f"{fetched.label}: files of {fetched.uri} changed since the smoke check passed "
            f"(sha256 {fetched.digest[:12]}..., checked {str(record.get('digest'))[:12]}...); "
            "refusing to use them"
        )
    return True
