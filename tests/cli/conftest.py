"""Data the command tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def good(tmp_path, customers) -> Path:
    path = tmp_path / "day.csv"
    customers.head(600).to_csv(path, index=False)
    return path
