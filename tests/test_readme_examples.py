"""Every example config of the README trains a model: the README shows files under
docs/examples/, and each of those passes ``config check`` and trains on the bundled data with
missing values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_mlops.core.config import load_model_config
from airflow_mlops.core.config_check import check_config
from airflow_mlops.core.training import train_challenger

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "docs" / "examples").glob("*.yaml"))
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_every_yaml_block_of_the_readme_is_part_of_an_example_file():
    blocks = YAML_BLOCK.findall((REPO / "README.md").read_text())
    examples = [path.read_text() for path in EXAMPLES]

    assert blocks, "the README shows its example configs"
    for block in blocks:
        assert any(block in text for text in examples), block


@pytest.fixture(scope="module")
def gappy(customers):
    holes = customers.head(400).copy()
    holes.loc[holes.index[::6], "monthly_charges"] = None
    holes.loc[holes.index[1::9], "contract"] = None
    return holes


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_config_checks_and_trains(path, gappy, mlflow_session, tmp_path):
    import mlflow.sklearn

    config = load_model_config(path)
    assert check_config(path, config) == []

    result = train_challenger(
        gappy, model_name=config.name, experiment_name=config.experiment_name,
        target=config.target, features=config.features,
        estimator=config.estimator.model_dump(by_alias=True, exclude_none=True),
        task=config.task, holdout_fraction=config.holdout_fraction, seed=config.seed,
        lineage={"data_fingerprint": "f", "dag_id": "d", "run_id": path.stem},
        artifact_location=str(tmp_path / "artifacts"),
    )

    assert result["version"] == "1" and result["metrics"]["roc_auc"] > 0.5
    model = mlflow.sklearn.load_model(f"models:/{config.name}/1")
    assert model.predict(gappy[config.features]).shape == (len(gappy),)
