"""Export: copy a checked model version to a serving location (a folder or object storage)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.fetch import fetch_version, verify_smoke_checked
from airflow_mlops.core.io import StoragePath, as_path, short
from airflow_mlops.core.paths import refuse_traversal, resolve_under

if TYPE_CHECKING:
    from mlflow import MlflowClient

MARKER = "airflow_mlops_export.json"


def read_marker(target: StoragePath) -> dict | None:
    """What an earlier export wrote to ``target``; None when nothing was exported there."""
    try:
        with (target / MARKER).open("rb") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{target / MARKER}: cannot be read: {short(exc)}") from None


def _write_marker(target: StoragePath, marker: dict) -> None:
    with resolve_under(target, MARKER, what="export marker").open("wb") as handle:
        handle.write(json.dumps(marker, indent=2).encode())


def _has_entries(target: StoragePath) -> bool:
    if not target.exists():
        return False
    if not target.is_dir():
        raise RegistryError(f"{target}: is a file, not a folder to export into")
    return any(True for _ in target.iterdir())


def export_version(
    client: MlflowClient,
    *,
    model_name: str,
    version: str,
    target: str | os.PathLike[str] | StoragePath,
    lineage: dict[str, str],
) -> dict:
    """Copy the files of ``models:/model_name/version`` into the folder ``target``.

    The folder then loads with ``mlflow.pyfunc.load_model`` like the registered version.
    Its marker file (``airflow_mlops_export.json``) names the version and the SHA-256 of
    its files; it says ``"complete": false`` while files are being replaced, so a consumer
    can tell. Exporting the version the folder already holds changes nothing; files of the
    previous export that the new one lacks are removed. A folder with other content and no
    marker is refused, never overwritten.

    :raises RegistryError: the target holds something else, or the version cannot be
        fetched, failed its smoke check or changed since.
    :raises PathEscapeError: ``target`` holds a ``..`` segment, or the marker of an earlier
        export lists a file outside ``target`` (a tampered marker).
    """
    refuse_traversal(str(target), what="export target")
    target = as_path(target)
    occupied = _has_entries(target)
    previous = read_marker(target) if occupied else None
    if occupied and previous is None:
        raise RegistryError(
            f"{target}: is not empty and holds no {MARKER}; refusing to export "
            f"model '{model_name}' v{version} over its content"
        )
    with tempfile.TemporaryDirectory(prefix="airflow-mlops-export-") as folder:
        fetched = fetch_version(client, model_name, str(version), Path(folder))
        smoke_checked = verify_smoke_checked(client, fetched)
        summary = {"model": model_name, "version": fetched.version, "target": str(target),
                   "digest": fetched.digest, "smoke_checked": smoke_checked}
        if previous and previous.get("complete") and (
            (previous.get("model"), previous.get("version"), previous.get("digest"))
            == (model_name, fetched.version, fetched.digest)
        ):
            return {**summary, "changed": False}
        files = sorted(p.relative_to(fetched.path).as_posix()
                       for p in fetched.path.rglob("*") if p.is_file())
        earlier = set((previous or {}).get("files", [])) | set((previous or {}).get("stale", []))
        marker = {"model": model_name, "version": fetched.version, "digest": fetched.digest,
                  "files": files, "stale": sorted(earlier - set(files)),
                  "exported_by": f"{lineage['dag_id']}/{lineage['run_id']}", "complete": False}
        stale = [resolve_under(target, name, what=f"file listed in {MARKER}")
                 for name in marker["stale"]]
        try:
            target.mkdir(parents=True, exist_ok=True)
            _write_marker(target, marker)
            for name in files:
                destination = resolve_under(target, name, what="exported file")
                destination.parent.mkdir(parents=True, exist_ok=True)
                with (fetched.path / name).open("rb") as reader, destination.open("wb") as writer:
                    shutil.copyfileobj(reader, writer)
            for path in stale:
                with suppress(FileNotFoundError):
                    path.unlink()
            _write_marker(target, {**marker, "stale": [], "complete": True})
        except OSError as exc:
            raise RegistryError(
                f"{fetched.label}: cannot be exported to {target}: {short(exc)}"
            ) from None
    return {**summary, "changed": True}
