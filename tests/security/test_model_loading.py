"""Tampered model artifacts are refused before anything in them runs (real MLflow store).

Each payload writes a marker file when it is deserialized or imported; a control shows that
it really does so when loaded without our checks, and the test shows that our loading paths
refuse it and the marker never appears.

Two layers stand in the way. Files that differ from the SHA-256 training recorded, or have none
recorded (registered by hand), are refused before anything in them is read. Tests of the
second layer (the allow-list and the MLmodel checks) first use the ``forge_digest`` fixture,
as someone able to rewrite registry tags could.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import importlib
import pickle
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest
import skops.io
import yaml
from mlflow import MlflowClient

from airflow_mlops.core import registry
from airflow_mlops.core.errors import RegistryError
from airflow_mlops.core.export import export_version
from airflow_mlops.core.fetch import (
    DIGEST_TAG,
    downloaded_digest,
    fetch_version,
    smoke_record,
    trust_version,
)
from airflow_mlops.core.quality import check_quality
from airflow_mlops.core.scoring import score_batch
from airflow_mlops.core.smoke import SmokeCheckError, require_smoke_passed, smoke_check
from airflow_mlops.core.version_predictions import VersionUnusable, predict_versions

MODEL = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
LINEAGE = {"dag_id": "nightly_retrain_churn", "run_id": "scheduled__2026-03-01"}
# Time a hanging model gets: its child loads it in about 3 s, so it is predicting well before.
HANG_LIMIT = 15
PACKAGE = Path(__file__).resolve().parents[2] / "airflow_mlops"
PAYLOAD_MODULE = textwrap.dedent('''
    """A type no allow-list trusts: restoring it writes a marker file."""
    from pathlib import Path


    class Boom:
        def __init__(self, path):
            self.path = path

        def __setstate__(self, state):
            Path(state["path"]).write_text("payload ran")
''')


class PicklePayload:
    """Unpickling this opens (creates) the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.fixture
def boom(tmp_path, monkeypatch):
    """The payload module on the import path, and the marker its type writes when restored."""
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / "mlops_payload.py").write_text(PAYLOAD_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "mlops_payload", raising=False)
    return importlib.import_module("mlops_payload").Boom, tmp_path / "boom-marker"


@pytest.fixture
def sample(customers):
    return customers.iloc[200:240].reset_index(drop=True)


def model_dir(version: str) -> Path:
    return Path(MlflowClient().get_model_version_download_uri(MODEL, version))


def edit_mlmodel(version: str, **sklearn_flavor) -> None:
    path = model_dir(version) / "MLmodel"
    meta = yaml.safe_load(path.read_text())
    meta["flavors"]["sklearn"].update(sklearn_flavor)
    path.write_text(yaml.safe_dump(meta))


def predicted(rows, version: str):
    """The evaluation's and the quality check's route: ``version``'s predictions on ``rows``."""
    (predictions,) = predict_versions(MODEL, [version], rows[FEATURES], rows["churned"],
                                      "classification")
    return predictions


def smoke(sample, version: str, **kwargs) -> dict:
    return smoke_check(sample, model_name=MODEL, version=version, sample_name="day.csv",
                       lineage=LINEAGE, **kwargs)


def test_changed_files_are_refused_before_anything_is_deserialized(store, sample, tmp_path,
                                                                   monkeypatch):
    """(a) The smoke check recorded the files' hash; a swapped model file is never loaded."""
    version, other = store(), store()
    smoke(sample, version)
    shutil.copyfile(model_dir(other) / "model.skops", model_dir(version) / "model.skops")
    loads = []
    real_load = skops.io.load
    monkeypatch.setattr(skops.io, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    data = tmp_path / "day.csv"
    sample.drop(columns=["churned"]).to_csv(data, index=False)

    changed = rf"model 'churn' v{version}: files of models:/churn/{version} changed since the " \
              "smoke check passed"
    with pytest.raises(RegistryError, match=changed):
        score_batch(MlflowClient(), model_name=MODEL, version=version, data=data,
                    output=tmp_path / "out.parquet", key_columns=["customer_id"],
                    scored_at=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(RegistryError, match=changed):
        export_version(MlflowClient(), model_name=MODEL, version=version,
                       target=tmp_path / "serving", lineage=LINEAGE)

    assert loads == []  # refused on the hash: skops never opened the swapped file
    assert not (tmp_path / "out.parquet").exists()
    assert not (tmp_path / "serving").exists()


def promote(version: str) -> None:
    client = MlflowClient()
    registry.promote(client, MODEL, version,
                     expected_champion=registry.alias_version(client, MODEL, registry.CHAMPION))


def routes(sample, version: str, tmp_path: Path) -> dict:
    """How each step loads ``version`` (the champion), in pipeline order: evaluation, smoke
    check, scoring, export and the quality check."""
    data = tmp_path / "day.csv"
    sample.drop(columns=["churned"]).to_csv(data, index=False)
    return {
        "evaluation": lambda: predicted(sample, version),
        "smoke check": lambda: smoke(sample, version),
        "scoring": lambda: score_batch(
            MlflowClient(), model_name=MODEL, version=version, data=data,
            output=tmp_path / "out.parquet", key_columns=["customer_id"],
            scored_at=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)),
        "export": lambda: export_version(MlflowClient(), model_name=MODEL, version=version,
                                         target=tmp_path / "serving", lineage=LINEAGE),
        "quality": lambda: check_quality(sample, model_name=MODEL, target="churned",
                                         features=FEATURES, task="classification",
                                         metric="roc_auc", max_decay=1.0),
    }


def test_an_untampered_model_loads_on_every_route(store, sample, tmp_path):
    version = store()
    promote(version)
    trained = MlflowClient().get_model_version(MODEL, version).tags[registry.tag(DIGEST_TAG)]

    loaded = {step: load() for step, load in routes(sample, version, tmp_path).items()}

    in_process = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    assert loaded["evaluation"].predicted.tolist() == in_process.predict(sample[FEATURES]).tolist()
    assert (loaded["evaluation"].proba.tolist()
            == in_process.predict_proba(sample[FEATURES]).tolist())
    assert loaded["smoke check"]["digest"] == trained
    assert (loaded["scoring"]["rows"], loaded["scoring"]["smoke_checked"]) == (len(sample), True)
    assert loaded["export"]["digest"] == trained
    assert loaded["quality"].champion_version == version


@pytest.mark.parametrize("mlmodel_says", ["skops", "pickle"])
def test_files_changed_after_training_are_refused_on_every_route_before_anything_is_read(
        store, sample, tmp_path, monkeypatch, mlmodel_says):
    """A fresh version, never smoke-checked, whose model.skops now holds a pickle payload
    (its MLmodel still says skops, or now says pickle). Every step refuses it on the hash
    training recorded: neither its MLmodel nor its model file is read, the payload never runs."""
    from mlflow.models import Model

    version = store()
    promote(version)
    marker = tmp_path / "marker"
    payload = pickle.dumps(PicklePayload(marker))
    (model_dir(version) / "model.skops").write_bytes(payload)
    if mlmodel_says == "pickle":
        edit_mlmodel(version, serialization_format="pickle")
    reads = []
    real_read, real_load = Model.load, skops.io.load
    monkeypatch.setattr(Model, "load", lambda *a, **k: reads.append(a) or real_read(*a, **k))
    monkeypatch.setattr(skops.io, "load", lambda *a, **k: reads.append(a) or real_load(*a, **k))
    changed = (rf"model 'churn' v{version}: files of models:/churn/{version} changed since "
               r"training \(sha256 [0-9a-f]{12}\.\.\., recorded [0-9a-f]{12}\.\.\.\); "
               "refusing to load them")

    for load in routes(sample, version, tmp_path).values():
        with pytest.raises(RegistryError, match=changed):
            load()

    assert reads == []
    assert not marker.exists()
    assert not (tmp_path / "out.parquet").exists()
    assert not (tmp_path / "serving").exists()
    pickle.loads(payload)  # control: the payload is real
    assert marker.exists()


def test_a_pickled_model_with_a_payload_is_refused_and_never_unpickled(store, sample, tmp_path,
                                                                       customers, forge_digest):
    """(b) A cloudpickle model whose file runs code when unpickled."""
    from sklearn.dummy import DummyClassifier

    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(PicklePayload(control)))
    assert control.exists()  # the payload is real
    features = customers[["tenure_months"]]
    experiment = mlflow.get_experiment_by_name("trained").experiment_id
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            DummyClassifier().fit(features, customers["churned"]), name="model",
            serialization_format="cloudpickle", pip_requirements=[],
            signature=mlflow.models.infer_signature(features),
        )
    version = str(mlflow.register_model(info.model_uri, MODEL).version)  # by hand: no digest
    marker = tmp_path / "marker"
    (model_dir(version) / "model.pkl").write_bytes(pickle.dumps(PicklePayload(marker)))

    with pytest.raises(SmokeCheckError, match=f"no SHA-256 is recorded for models:/churn/{version} "
                       r"\(tag "):
        smoke(sample, version)
    with pytest.raises(RegistryError, match="not 'skops'; refusing to load it"):
        trust_version(MlflowClient(), MODEL, version, reason="reviewed", by="me")
    forge_digest(MODEL, version)
    with pytest.raises(SmokeCheckError, match="serialized as 'cloudpickle', not 'skops'; "
                       r"refusing to load it \(pickle formats can run code\)"):
        smoke(sample, version)
    with pytest.raises(RegistryError, match="not 'skops'; refusing to load it"):
        predicted(sample, version)  # the evaluation's and quality check's route

    assert not marker.exists()


@pytest.mark.parametrize("claimed", ["skops", "pickle"])
def test_a_pickle_disguised_as_the_skops_file_never_runs(store, sample, tmp_path, claimed):
    """(b) The payload replaces model.skops; MLmodel keeps saying skops, or says pickle."""
    version = store()
    marker = tmp_path / "marker"
    (model_dir(version) / "model.skops").write_bytes(pickle.dumps(PicklePayload(marker)))
    if claimed == "pickle":
        edit_mlmodel(version, serialization_format="pickle")

    with pytest.raises(SmokeCheckError, match=rf"model 'churn' v{version}: "):
        smoke(sample, version)
    # The evaluation rejects a challenger whose load raises anything (core/evaluation.py).
    with pytest.raises(RegistryError, match=rf"model 'churn' v{version}: "):
        predicted(sample, version)

    assert not marker.exists()


@pytest.mark.parametrize("mlmodel_trusts_it", [False, True])
def test_a_skops_file_naming_an_untrusted_type_is_refused_before_loading(
        store, sample, boom, mlmodel_trusts_it, forge_digest):
    """(c) The skops file holds a type outside every allow-list; restoring it runs code.

    The digest is forged to match, so the hash check lets it through. With MLmodel untouched,
    skops' audit (against the MLmodel's list, which our allow-list bounds) refuses it before
    constructing anything; with MLmodel tampered to trust the type, our allow-list refuses the
    model before skops is called.
    """
    boom_type, marker = boom
    control = marker.with_name("control-marker")
    skops.io.loads(skops.io.dumps(boom_type(str(control))), trusted=["mlops_payload.Boom"])
    assert control.exists()  # the payload is real
    version = store()
    skops.io.dump(boom_type(str(marker)), model_dir(version) / "model.skops")
    if mlmodel_trusts_it:
        edit_mlmodel(version, skops_trusted_types=["mlops_payload.Boom"])
    forge_digest(MODEL, version)
    if mlmodel_trusts_it:
        reason = r"trusts types outside the reviewed allow-list \['mlops_payload\.Boom'\]"
    else:
        reason = r"cannot be loaded from models:/churn/\d+: .*mlops_payload\.Boom"

    with pytest.raises(SmokeCheckError, match=reason):
        smoke(sample, version)
    with pytest.raises(RegistryError, match=r"mlops_payload\.Boom"):
        predicted(sample, version)

    assert not marker.exists()


def test_code_shipped_with_a_model_is_never_put_on_the_import_path(store, sample, tmp_path,
                                                                   monkeypatch, forge_digest):
    """MLflow puts a flavor's ``code`` folder first on ``sys.path``: any later import of a
    module of that name (matplotlib, drawn after evaluation loads the models) would run it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "mlops_code_probe", raising=False)
    marker = tmp_path / "marker"
    version = store()
    code = model_dir(version) / "code"
    code.mkdir()
    (code / "mlops_code_probe.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    edit_mlmodel(version, code="code")
    forge_digest(MODEL, version)

    with pytest.raises(RegistryError, match=rf"model 'churn' v{version}: ships code \('code'\)"):
        predicted(sample, version)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mlops_code_probe")
    assert not marker.exists()

    mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")  # control: MLflow alone
    importlib.import_module("mlops_code_probe")
    assert marker.exists()


def test_models_are_deserialized_only_in_the_checked_loaders():
    """Every use of a function that deserializes a model (called or passed on) sits in the
    module that checks it first: new loading code must go through it (or be reviewed and
    listed here)."""
    loaders = {"load_model", "load", "loads", "_load_pyfunc"}
    allowed = {("core/fetch.py", "mlflow.pyfunc.load_model"),
               ("core/fetch.py", "mlflow.sklearn.load_model"),
               # The smoke check's child reads the call its parent pickled, never a model.
               ("core/contained.py", "pickle.load")}
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in loaders:
                name = ast.unparse(node)
                if name.split(".")[0] in {"mlflow", "skops", "pickle", "cloudpickle", "joblib"}:
                    found.add((path.relative_to(PACKAGE).as_posix(), name))
    assert found == allowed
    source = PACKAGE.joinpath("core", "fetch.py").read_text()
    assert "check_loadable(meta.flavors" in source  # fetch_version checks before the loaders
    assert "_check_pyfunc(meta.flavors" in source


def edit_pyfunc(version: str, **pyfunc_flavor) -> None:
    path = model_dir(version) / "MLmodel"
    meta = yaml.safe_load(path.read_text())
    meta["flavors"]["python_function"].update(pyfunc_flavor)
    path.write_text(yaml.safe_dump(meta))


def other_model(folder: Path, customers) -> Path:
    """A sound skops model of another kind (predicts the majority class), outside the store."""
    from sklearn.dummy import DummyClassifier

    folder.mkdir()
    path = folder / "model.skops"
    skops.io.dump(DummyClassifier().fit(customers[FEATURES], customers["churned"]), path)
    return path


def test_evaluation_loads_the_files_it_checked_even_if_the_store_changes_meanwhile(
        store, tmp_path, monkeypatch, customers):
    """The evaluation downloads once: files swapped in the store right after its check
    (here: a pickle payload, with MLmodel saying pickle) are never read."""
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    version = store()
    expected = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    marker = tmp_path / "marker"
    downloads = []
    real_download = ModelsArtifactRepository.download_artifacts

    def download_then_swap(self, *args, **kwargs):
        local = real_download(self, *args, **kwargs)
        if not downloads:
            (model_dir(version) / "model.skops").write_bytes(pickle.dumps(PicklePayload(marker)))
            edit_mlmodel(version, serialization_format="pickle")
        downloads.append(local)
        return local

    monkeypatch.setattr(ModelsArtifactRepository, "download_artifacts", download_then_swap)

    rows = customers.head(50)
    loaded = predicted(rows, version)

    assert len(downloads) == 1
    assert not marker.exists()
    assert loaded.proba.tolist() == expected.predict_proba(rows[FEATURES]).tolist()
    with pytest.raises(RegistryError, match=rf"files of models:/churn/{version} changed since "
                       "training"):
        predicted(rows, version)  # the swap did happen: a second load refuses it
    assert not marker.exists()


def test_the_quality_check_refuses_a_champion_changed_after_its_smoke_check(
        store, sample, customers, tmp_path, monkeypatch):
    """The champion passed its smoke check and was promoted; then its model file was replaced
    by another (sound) model. Scoring its quality on that would judge the wrong model."""
    version = store()
    smoke(sample, version)
    client = MlflowClient()
    registry.promote(client, MODEL, version,
                     expected_champion=registry.alias_version(client, MODEL, registry.CHAMPION))
    shutil.copyfile(other_model(tmp_path / "other", customers), model_dir(version) / "model.skops")
    loads = []
    real_load = skops.io.load
    monkeypatch.setattr(skops.io, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))

    with pytest.raises(RegistryError, match=rf"model 'churn' v{version}: files of "
                       rf"models:/churn/{version} changed since the smoke check passed"):
        check_quality(customers.iloc[300:500], model_name=MODEL, target="churned",
                      features=FEATURES, task="classification", metric="roc_auc",
                      max_decay=0.05)
    assert loads == []


@pytest.mark.parametrize("model_path", ["absolute", "../model.skops", "other.skops", None],
                         ids=["absolute", "parent", "another-file", "missing"])
def test_a_pyfunc_model_path_other_than_the_model_file_is_refused(
        store, sample, tmp_path, customers, model_path, forge_digest):
    """MLflow's pyfunc loader joins ``model_path`` onto the model folder: an absolute path or
    ``..`` would serve a file the hash does not cover, here a model of another kind."""
    version = store()
    other = other_model(tmp_path / "elsewhere", customers)
    if model_path == "other.skops":
        shutil.copyfile(other, model_dir(version) / "other.skops")
    edit_pyfunc(version, model_path=str(other) if model_path == "absolute" else model_path)
    forge_digest(MODEL, version)
    named = repr(str(other) if model_path == "absolute" else model_path)

    reason = (rf"model 'churn' v{version}: its python_function flavor loads "
              rf"{re.escape(named)}, not the model file 'model\.skops'; refusing to load it")
    with pytest.raises(RegistryError, match=reason):
        fetch_version(MlflowClient(), MODEL, version, tmp_path / "fetched")
    with pytest.raises(SmokeCheckError, match=reason):
        smoke(sample, version)

    if model_path == "absolute":  # control: MLflow alone serves the other model
        served = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}").get_raw_model()
        assert type(served).__name__ == "DummyClassifier"


def test_a_pyfunc_data_path_leading_to_a_pickle_is_refused_and_never_runs(store, sample,
                                                                          tmp_path, forge_digest):
    """MLflow's pyfunc loader hands ``data`` (joined onto the model folder) to the sklearn
    loader, which then reads *that* folder's MLmodel: a pickle elsewhere would run."""
    marker = tmp_path / "marker"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "model.pkl").write_bytes(pickle.dumps(PicklePayload(marker)))
    (evil / "MLmodel").write_text(yaml.safe_dump({"flavors": {
        "sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle"},
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
    }}))
    version = store()
    edit_pyfunc(version, data=str(evil))
    forge_digest(MODEL, version)
    data = tmp_path / "day.csv"
    sample.drop(columns=["churned"]).to_csv(data, index=False)

    reason = (rf"model 'churn' v{version}: its python_function flavor loads data from "
              rf"{re.escape(repr(str(evil)))}; refusing to load it")
    with pytest.raises(SmokeCheckError, match=reason):
        smoke(sample, version)
    with pytest.raises(RegistryError, match=reason):
        score_batch(MlflowClient(), model_name=MODEL, version=version, data=data,
                    output=tmp_path / "out.parquet", key_columns=["customer_id"],
                    scored_at=dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    assert not marker.exists()

    with contextlib.suppress(Exception):  # control: MLflow alone runs the payload
        mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    assert marker.exists()


CONSUMER = textwrap.dedent('''
    """Load a skops model file with the types it names trusted, and predict on a CSV file."""
    import sys

    import pandas as pd
    import skops.io

    path, rows = sys.argv[1:]
    model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    model.predict(pd.read_csv(rows))
    print("predicted")
''')


def forged_tree(customers, child: int, run: str = "smoke") -> str:
    """A decision tree version whose root node's children are both node ``child``, with the
    digest forged to match, as a registry writer could. Its skops file holds only the types
    training trusted (``sklearn.tree._tree.Tree`` included): every loading check passes."""
    from airflow_mlops.core.training import train_challenger

    experiment = mlflow.get_experiment_by_name("trained")
    version = train_challenger(
        customers.head(200), model_name=MODEL, experiment_name=experiment.name,
        target="churned", task="classification", holdout_fraction=0.3, seed=7,
        features=FEATURES, estimator={"class": "sklearn.tree.DecisionTreeClassifier",
                                      "params": {"max_depth": 3}},
        lineage={"dag_id": "by_hand", "run_id": f"tree-{child}-{run}",
                 "data_fingerprint": "f"},
    )["version"]
    path = model_dir(version) / "model.skops"
    model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    tree = model.named_steps["estimator"].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = nodes["right_child"][0] = child
    tree.__setstate__({**state, "nodes": nodes})
    skops.io.dump(model, path)
    registry.set_version_tags(MlflowClient(), MODEL, version,
                              {DIGEST_TAG: downloaded_digest(MODEL, version)})
    return version


def consume_alone(version: str, sample, tmp_path: Path, timeout: float | None = None):
    """Run the forged version's model file without our checks, in a plain process."""
    script, data = tmp_path / "consumer.py", tmp_path / "rows.csv"
    script.write_text(CONSUMER)
    sample[FEATURES].to_csv(data, index=False)
    model_file = model_dir(version) / "model.skops"
    return subprocess.run([sys.executable, str(script), str(model_file), str(data)],
                          capture_output=True, text=True, timeout=timeout)


def test_a_model_that_crashes_its_process_fails_the_smoke_check_and_is_never_promoted(
        store, sample, customers, tmp_path):
    """A child index of 10**12 makes scikit-learn read far outside the tree's node array."""
    version = forged_tree(customers, child=10**12)

    with pytest.raises(SmokeCheckError, match=rf"model 'churn' v{version}: the model crashed "
                       rf"the process with SIGSEGV while predicting on {len(sample)} rows of "
                       r"day\.csv"):
        smoke(sample, version)

    record = smoke_record(MlflowClient(), MODEL, version)
    assert record["passed"] is False
    assert "crashed the process with SIGSEGV" in record["error"]
    with pytest.raises(SmokeCheckError, match=rf"v{version} failed its smoke check \(.*SIGSEGV"):
        require_smoke_passed(MlflowClient(), MODEL, version)
    alone = consume_alone(version, sample, tmp_path)  # control: it does crash a process
    assert alone.returncode == -signal.SIGSEGV
    assert "predicted" not in alone.stdout


def test_a_model_that_never_answers_fails_the_smoke_check_within_its_time_limit(
        store, sample, customers, tmp_path):
    """A root node whose children are itself: predicting walks that loop forever."""
    version = forged_tree(customers, child=0)

    with pytest.raises(SmokeCheckError, match=rf"model 'churn' v{version}: the model did not "
                       rf"answer within {HANG_LIMIT} s while predicting on {len(sample)} rows "
                       r"of day\.csv"):
        smoke(sample, version, time_limit=HANG_LIMIT)

    assert smoke_record(MlflowClient(), MODEL, version)["passed"] is False
    with pytest.raises(subprocess.TimeoutExpired):  # control: alone, it is still predicting
        consume_alone(version, sample, tmp_path, timeout=10)


def evaluate(rows, challenger: str) -> dict:
    from airflow_mlops.core.evaluation import evaluate_challenger

    return evaluate_challenger(
        rows, model_name=MODEL, challenger_version=challenger, target="churned",
        features=FEATURES, task="classification", holdout_fraction=0.3, seed=7,
        policy={"primary_metric": "roc_auc"}, lineage=LINEAGE,
    )


def test_a_champion_that_crashes_its_process_stops_the_evaluation_and_nothing_else(
        store, customers, tmp_path):
    """A registry writer points ``champion`` at the forged tree: the evaluation scores it in
    a child process, so the crash fails this evaluation with the reason, and this process
    (the worker's task) carries on; the challenger gets no verdict."""
    forged = forged_tree(customers, child=10**12, run="champion")
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, registry.CHAMPION, forged)
    challenger = store()

    with pytest.raises(VersionUnusable, match=rf"model 'churn' v{forged}: the model crashed the "
                       rf"process with SIGSEGV while predicting with model 'churn' v{forged} "
                       "on 90 rows") as raised:
        evaluate(customers.head(300), challenger)

    assert raised.value.position == 1
    assert consume_alone(forged, customers.head(40), tmp_path).returncode == -signal.SIGSEGV
    assert registry.tag("decision") not in client.get_model_version(MODEL, challenger).tags
    promote(challenger)  # the next test starts from a sound champion


def test_a_challenger_that_crashes_its_process_is_rejected_with_the_reason(store, customers):
    forged = forged_tree(customers, child=10**12, run="challenger")

    summary = evaluate(customers.head(300), forged)

    assert summary["verdict"] == "reject"
    assert summary["failed_checks"] == ["usable"]
    assert summary["reasons"][0].startswith(
        f"challenger v{forged} cannot be loaded or cannot predict: model 'churn' v{forged}: the "
        "model crashed the process with SIGSEGV")


def test_a_champion_that_never_answers_fails_within_the_time_limit(store, customers):
    forged = forged_tree(customers, child=0, run="champion")
    rows = customers.head(40)

    with pytest.raises(VersionUnusable, match=rf"model 'churn' v{forged}: the model did not "
                       rf"answer within {HANG_LIMIT} s while predicting with model 'churn' "
                       rf"v{forged} on 40 rows"):
        predict_versions(MODEL, [forged], rows[FEATURES], rows["churned"], "classification",
                         time_limit=HANG_LIMIT)


def test_the_quality_check_of_a_crashing_champion_fails_with_the_reason(store, customers):
    forged = forged_tree(customers, child=10**12, run="champion")
    client = MlflowClient()
    sound = registry.alias_version(client, MODEL, registry.CHAMPION)
    client.set_registered_model_alias(MODEL, registry.CHAMPION, forged)
    try:
        with pytest.raises(RegistryError, match=rf"v{forged}: the model crashed the process "
                           "with SIGSEGV"):
            check_quality(customers.iloc[300:500], model_name=MODEL, target="churned",
                          features=FEATURES, task="classification", metric="roc_auc",
                          max_decay=1.0)
    finally:
        if sound is not None:
            client.set_registered_model_alias(MODEL, registry.CHAMPION, sound)
