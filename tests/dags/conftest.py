"""Helpers the end-to-end DAG tests share: landing partitions, drifted data, asset events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest


@pytest.fixture
def land():
    """``land(frame, folder, day, name)`` writes ``folder/ds=YYYY-MM-DD/name`` as CSV."""

    def land(frame, folder: Path, day: dt.datetime, name: str = "customers.csv") -> Path:
        path = folder / f"ds={day:%Y-%m-%d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        return path

    return land


@pytest.fixture
def shifted():
    """``shifted(frame)``: older, pricier customers who call support more, on longer contracts."""

    def shifted(frame):
        frame = frame.copy()
        frame["tenure_months"] += 30
        frame["monthly_charges"] *= 1.6
        frame["support_calls"] += 3
        frame["contract"] = "two-year"
        return frame

    return shifted


@pytest.fixture
def retrain_events():
    """``retrain_events(model)``: the asset events of the model's retrain requests."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    def events(model: str) -> list:
        with create_session() as session:
            rows = (session.query(AssetEvent)
                    .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                    .filter(AssetModel.name == f"airflow-mlops/{model}/retrain-requested")
                    .all())
            session.expunge_all()
            return rows

    return events
