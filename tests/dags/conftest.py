"""What the end-to-end DAG tests share: the asset events of retrain requests."""

from __future__ import annotations

import pytest


@pytest.fixture
def retrain_events(airflow_db):
    """``retrain_events(model)``: the asset events of the model's retrain requests made
    during this test (the metadata DB is shared by the whole session), oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func

    with create_session() as session:
        before = session.query(func.max(AssetEvent.id)).scalar() or 0

    def events(model: str) -> list:
        with create_session() as session:
            rows = (session.query(AssetEvent)
                    .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                    .filter(AssetModel.name == f"airflow-mlops/{model}/retrain-requested",
                            AssetEvent.id > before)
                    .order_by(AssetEvent.id)
                    .all())
            session.expunge_all()
            return rows

    return events
