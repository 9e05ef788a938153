"""A registered model version as its consumers get it: downloaded, checked, then loaded.

Deployment, evaluation and the quality check never load ``models:/...`` URIs directly: they
download the version once, hash the downloaded files, refuse them unless the hash matches every
one recorded on the version and their MLmodel passes
:func:`~airflow_mlops.core.serialization.check_loadable`, and load exactly those files.
Training records the hash of what it logged (tag ``model_sha256``); a passed smoke check
records the hash of the files it loaded (tag ``smoke_check``). A version with no hash recorded
(registered by hand) is refused until someone who reviewed its files records theirs with
:func:`trust_version` (``airflow-mlops models trust``).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.io import short
from airflow_mlops.core.serialization import check_loadable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

SMOKE_TAG = "smoke_check"
DIGEST_TAG = "model_sha256"
TRUST_TAG = "trusted"
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


def require_version(client: MlflowClient, model: str, version: str) -> ModelVersion:
    """The registry's record of the version; fails clearly when there is no such version."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(model, version)
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


def _download(model: str, version: str, folder: Path) -> Path:
    import mlflow.artifacts

    uri = f"models:/{model}/{version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder)))


def downloaded_digest(model: str, version: str) -> str:
    """The SHA-256 of the version's files as :func:`fetch_version` downloads and hashes them."""
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-digest-") as folder:
        return folder_digest(_download(model, str(version), Path(folder)))


def registered_digest(folder: Path, model: str, version: str) -> str:
    """The SHA-256 :func:`downloaded_digest` will compute for the model files in ``folder``
    once they are registered as ``version`` of ``model``, without downloading them.

    A download of ``models:/model/version`` holds the logged files plus the
    ``registered_model_meta`` file MLflow writes next to them (the model's name and version);
    the same file is written into ``folder`` (which the caller owns) before hashing it.
    """
    from mlflow.store.artifact.models_artifact_repo import REGISTERED_MODEL_META_FILE_NAME
    from mlflow.utils.yaml_utils import write_yaml

    write_yaml(str(folder), REGISTERED_MODEL_META_FILE_NAME,
               {"model_name": model, "model_version": str(version)},
               overwrite=True, ensure_yaml_extension=False)
    return folder_digest(folder)


def _check_digest(tags: dict[str, str], model: str, version: str, digest: str) -> None:
    """Refuse files whose SHA-256 differs from one recorded on the version, or has none."""
    label, uri = f"model '{model}' v{version}", f"models:/{model}/{version}"
    smoke = json.loads(tags.get(registry.tag(SMOKE_TAG)) or "{}")
    recorded = {"the smoke check passed": smoke.get("digest") if smoke.get("passed") else None,
                "training": tags.get(registry.tag(DIGEST_TAG))}
    changed = {since: value for since, value in recorded.items() if value and value != digest}
    if changed:
        raise RegistryError(
            f"{label}: files of {uri} changed since {' and since '.join(changed)} "
            f"(sha256 {digest[:12]}..., recorded {next(iter(changed.values()))[:12]}...); "
            "refusing to load them"
        )
    if not any(recorded.values()):
        raise RegistryError(
            f"{label}: no SHA-256 is recorded for {uri} (tag {registry.tag(DIGEST_TAG)}): it "
            "was not trained by airflow-mlops, so nothing vouches for its files; retrain it, "
            f"or review them and run `airflow-mlops models trust {model} {version} --reason ...`"
        )


def _check_model_files(local: Path, label: str, uri: str) -> ModelSignature | None:
    """Check the MLmodel of downloaded files; their signature.

    :raises RegistryError: see :func:`fetch_version`.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        meta = Model.load(str(local))
    except (OSError, ValueError, MlflowException) as exc:
        raise RegistryError(f"{label}: MLmodel of {uri} cannot be read: {short(exc)}") from None
    check_loadable(meta.flavors.get("sklearn", {}), label)
    _check_pyfunc(meta.flavors, label)
    return meta.signature


def trust_version(client: MlflowClient, model: str, version: str, *, reason: str,
                  by: str) -> dict:
    """Record the SHA-256 of a version's files that ``by`` reviewed, so they can be loaded.

    Only for a version with no hash recorded; its MLmodel must pass the same checks as
    :func:`fetch_version`. The reason and reviewer are tagged (``trusted``) with the hash.

    :raises RegistryError: the version does not exist, already has a recorded hash, or its
        MLmodel fails the checks.
    """
    version = str(version)
    tags = require_version(client, model, version).tags
    label, uri = f"model '{model}' v{version}", f"models:/{model}/{version}"
    if registry.tag(DIGEST_TAG) in tags:
        raise RegistryError(f"{label}: a SHA-256 is already recorded for {uri}; nothing to trust")
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-trust-") as folder:
        local = _download(model, version, Path(folder))
        digest = folder_digest(local)
        _check_model_files(local, label, uri)
    record = {"by": by, "reason": reason, "digest": digest}
    registry.set_version_tags(client, model, version, {DIGEST_TAG: digest, TRUST_TAG: record})
    return {"model": model, "version": version, **record}


def fetch_version(client: MlflowClient, model: str, version: str, folder: Path) -> FetchedModel:
    """Download ``models:/model/version`` into ``folder``, verify its hash, check its MLmodel.

    The files' SHA-256 is compared with those recorded at training and by the smoke check
    before anything in them, even the MLmodel, is read.

    :raises RegistryError: the version does not exist, its files differ from a recorded
        hash or have none recorded, or its MLmodel is missing, asks for pickle, trusts types
        outside the allow-list, or loads through other code than MLflow's sklearn loader or
        other files than its model file.
    """
    tags = require_version(client, model, version).tags
    label, uri = f"model '{model}' v{version}", f"models:/{model}/{version}"
    local = _download(model, version, folder)
    digest = folder_digest(local)
    _check_digest(tags, model, version, digest)
    signature = _check_model_files(local, label, uri)
    return FetchedModel(model, str(version), local, digest, signature)


def _load(fetched: FetchedModel, loader: Callable[[str], Any]) -> Any:
    try:
        return loader(str(fetched.path))
    except Exception as exc:  # each loader (skops, zipfile, sklearn) raises its own errors
        raise RegistryError(
            f"{fetched.label}: cannot be loaded from {fetched.uri}: {short(exc)}"
        ) from None


def load_pyfunc(fetched: FetchedModel) -> PyFuncModel:
    """Load the checked files as a consumer would (``mlflow.pyfunc``).

    :raises RegistryError: the files cannot be loaded (missing, truncated or tampered).
    """
    import mlflow.pyfunc

    return _load(fetched, mlflow.pyfunc.load_model)


def load_sklearn(fetched: FetchedModel) -> Any:
    """Load the checked files as the scikit-learn estimator itself (``mlflow.sklearn``).

    :raises RegistryError: the files cannot be loaded (missing, truncated or tampered).
    """
    import mlflow.sklearn

    return _load(fetched, mlflow.sklearn.load_model)


def smoke_record(client: MlflowClient, model: str, version: str) -> dict | None:
    """The smoke check recorded on a version, or None when it has not been checked."""
    text = client.get_model_version(model, version).tags.get(registry.tag(SMOKE_TAG))
    return json.loads(text) if text else None


def verify_smoke_checked(client: MlflowClient, fetched: FetchedModel) -> bool:
    """Whether the version passed its smoke check; False when it never ran.

    :func:`fetch_version` has already refused files that differ from those it passed.

    :raises RegistryError: the smoke check failed on this version.
    """
    record = smoke_record(client, fetched.model, fetched.version)
    if record is None:
        return False
    if not record.get("passed"):
        raise RegistryError(
            f"{fetched.label}: failed its smoke check ({record.get('error')}); refusing to use it"
        )
    return True
