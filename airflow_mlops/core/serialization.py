"""Safe model serialization: skops with an allow-list of types we have reviewed."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_mlops.core.errors import ConfigError, RegistryError

TRUSTED_TYPES = frozenset({
    # Node storage of tree models; scikit-learn builds it, skops cannot vouch for it.
    "sklearn.tree._tree.Tree",
    # Loss objects held by gradient boosting models.
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # Fitted stacking models keep their named estimators in a Bunch (a dict with attributes).
    "sklearn.utils._bunch.Bunch",
    "collections.OrderedDict",
    "numpy.dtype",
})


# The model file sits in the model's own folder: a plain name, never a path.
MODEL_FILE = re.compile(r"(?!\.\.?$)[\w.-]+")


@contextmanager
def quiet_module_scan() -> Iterator[None]:
    """Silence the deprecation warnings of skops's search for each type's module.

    skops looks every type up across ``sys.modules``; each of Airflow's deprecated import shims
    it touches warns, over a thousand lines per saved model in the task log.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Airflow's shims warn in categories of their own
        yield


def trusted_types_for(model: Any) -> list[str]:
    """The non-default skops types ``model`` needs, all of which must be on our allow-list."""
    with quiet_module_scan():  # importing skops scans too: for the ufuncs it trusts
        import skops.io

        needed = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    refused = sorted(set(needed) - TRUSTED_TYPES)
    if refused:
        raise ConfigError(
            f"estimator uses types outside the reviewed allow-list {refused}; "
            "they could run code or read memory when the model is loaded"
        )
    return sorted(needed)


def check_loadable(flavor: dict, where: str) -> None:
    """Refuse a logged model whose MLmodel asks for pickle or for types outside the allow-list,
    ships code, or keeps its model file anywhere but in its own folder.

    ``flavor`` is the model's ``sklearn`` flavor config; MLflow loads with the trusted types
    it lists, puts its ``code`` folder on ``sys.path`` and reads ``pickled_model`` relative to
    the model folder, so a tampered MLmodel could otherwise trust, import or load anything.
    """
    if flavor.get("serialization_format") != "skops":
        raise RegistryError(
            f"{where}: serialized as {flavor.get('serialization_format')!r}, not 'skops'; "
            "refusing to load it (pickle formats can run code)"
        )
    refused = sorted(set(flavor.get("skops_trusted_types") or []) - TRUSTED_TYPES)
    if refused:
        raise RegistryError(
            f"{where}: trusts types outside the reviewed allow-list {refused}; refusing to load it"
        )
    if flavor.get("code"):
        raise RegistryError(
            f"{where}: ships code ({flavor['code']!r}) that loading would put on the import "
            "path; refusing to load it"
        )
    model_file = flavor.get("pickled_model")
    if not isinstance(model_file, str) or not MODEL_FILE.fullmatch(model_file):
        raise RegistryError(
            f"{where}: model file {model_file!r} is not a plain file name in the model's "
            "folder; refusing to load it"
        )


def runtime_requirements() -> list[str]:
    """What a consumer needs to load our models: pinned, so no environment inference runs."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy")]
