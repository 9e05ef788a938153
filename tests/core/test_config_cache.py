"""Tests for the cache of validated model configs: never stale, never a way around the checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from airflow_mlops.core import config_cache
from airflow_mlops.core.config import cache_key, load_model_config
from airflow_mlops.core.errors import ConfigError

VALID = {
    "name": "churn",
    "start_date": "2026-01-01",
    "data_uri": "${AIRFLOW_MLOPS_DATA_ROOT}/ds={{ ds }}/customers.csv",
    "target": "churned",
    "suite": "suites/churn.json",
    "estimator": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5}},
}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache" / "configs"
    monkeypatch.setenv(config_cache.CACHE_ENV, str(folder))
    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", "/data")
    return folder


def write(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content))
    return path


def entry_of(path: Path, folder: Path) -> Path:
    return folder / f"{cache_key(path.read_bytes())}.json"


def test_a_loaded_config_is_kept_in_a_private_folder(tmp_path, cache):
    path = write(tmp_path / "model.yaml", VALID)

    config = load_model_config(path)

    entry = entry_of(path, cache)
    assert json.loads(entry.read_bytes())["data_uri"] == "/data/ds={{ ds }}/customers.csv"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    assert load_model_config(path) == config
    assert config.suite == (tmp_path / "suites" / "churn.json").resolve()


def test_the_default_folder_lies_under_airflow_home(tmp_path, monkeypatch):
    monkeypatch.delenv(config_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))

    assert config_cache.cache_folder() == tmp_path / ".airflow-mlops-cache" / "configs"


def test_a_changed_file_of_the_same_size_and_mtime_is_read_again(tmp_path, cache):
    path = write(tmp_path / "model.yaml", {**VALID, "seed": 7})
    assert load_model_config(path).seed == 7
    before = os.stat(path)

    write(path, {**VALID, "seed": 8})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert os.stat(path).st_size == before.st_size
    assert load_model_config(path).seed == 8


def test_a_hostile_edit_after_caching_is_refused(tmp_path, cache):
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)
    assert entry_of(path, cache).exists()  # the good config was cached

    write(path, {**VALID, "data_uri": "/data/{{ ''.__class__ }}.csv"})

    with pytest.raises(ConfigError, match="attribute access"):
        load_model_config(path)


def test_a_changed_allowed_variable_is_expanded_again(tmp_path, cache, monkeypatch):
    path = write(tmp_path / "model.yaml", VALID)
    assert load_model_config(path).data_uri.startswith("/data/")

    monkeypatch.setenv("AIRFLOW_MLOPS_DATA_ROOT", "/elsewhere")

    assert load_model_config(path).data_uri.startswith("/elsewhere/")


def test_a_narrowed_allow_list_is_checked_again(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIG_ENV_ALLOW", "DATA_ROOT")
    monkeypatch.setenv("DATA_ROOT", "/data")
    path = write(tmp_path / "model.yaml", {**VALID, "data_uri": "$DATA_ROOT/customers.csv"})
    assert load_model_config(path).data_uri == "/data/customers.csv"

    monkeypatch.delenv("AIRFLOW_MLOPS_CONFIG_ENV_ALLOW")

    with pytest.raises(ConfigError, match="'DATA_ROOT' may not be used"):
        load_model_config(path)


def test_a_lowered_size_cap_is_applied_to_a_cached_config(tmp_path, cache, monkeypatch):
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)

    monkeypatch.setenv("AIRFLOW_MLOPS_CONFIG_MAX_BYTES", "64")

    with pytest.raises(ConfigError, match="larger than 64 bytes"):
        load_model_config(path)


def tamper(path: Path, cache: Path, **changes) -> None:
    entry = entry_of(path, cache)
    entry.write_text(json.dumps({**json.loads(entry.read_bytes()), **changes}))


def test_an_entry_is_served_while_it_passes_the_checks(tmp_path, cache):
    # The negative control of the tests below: an entry, not the file, is what a hit returns.
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)

    tamper(path, cache, owner="from-the-cache")

    assert load_model_config(path).owner == "from-the-cache"


@pytest.mark.parametrize("changes", [
    {"data_uri": "/data/{{ ''.__class__.__mro__ }}.csv"},  # a template the checks refuse
    {"surprise": True},  # a field the schema does not know
    {"estimator": {"class": "sklearn.X", "steps": [{"class": "sklearn.Y"}]}},  # both
])
def test_a_tampered_entry_is_not_trusted(tmp_path, cache, changes):
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)

    tamper(path, cache, **changes)

    config = load_model_config(path)
    assert config.data_uri == "/data/ds={{ ds }}/customers.csv"
    assert config.estimator.class_path == "sklearn.linear_model.LogisticRegression"


def test_an_entry_that_is_not_json_is_not_trusted(tmp_path, cache):
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)

    entry_of(path, cache).write_text("[" * 100_000)

    assert load_model_config(path).name == "churn"


def test_an_entry_others_may_write_is_not_read(tmp_path, cache):
    path = write(tmp_path / "model.yaml", VALID)
    load_model_config(path)
    tamper(path, cache, owner="from-the-cache")

    entry_of(path, cache).chmod(0o622)

    assert load_model_config(path).owner == "airflow"


def test_a_folder_others_may_write_is_not_used(tmp_path, cache):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    path = write(tmp_path / "model.yaml", VALID)

    assert load_model_config(path).name == "churn"

    assert list(cache.iterdir()) == []


def test_a_symlinked_folder_is_not_used(tmp_path, cache):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache.parent.mkdir(mode=0o700)
    cache.symlink_to(elsewhere)
    path = write(tmp_path / "model.yaml", VALID)

    assert load_model_config(path).name == "churn"

    assert list(elsewhere.iterdir()) == []


def test_the_cache_can_be_turned_off(tmp_path, cache, monkeypatch):
    monkeypatch.setenv(config_cache.CACHE_ENV, config_cache.CACHE_OFF)
    path = write(tmp_path / "model.yaml", VALID)

    assert load_model_config(path).name == "churn"

    assert not cache.exists()


def test_a_config_whose_json_differs_is_not_kept(tmp_path, cache):
    # A YAML date among an estimator's params would read back from JSON as a string.
    estimator = {"class": "sklearn.linear_model.LogisticRegression", "params": {"since": "x"}}
    path = tmp_path / "model.yaml"
    text = yaml.safe_dump({**VALID, "estimator": estimator})
    path.write_text(text.replace("since: x", "since: 2026-01-01"))

    assert load_model_config(path).estimator.params["since"].isoformat() == "2026-01-01"

    assert list(cache.iterdir()) == []
