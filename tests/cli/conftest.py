"""Data the command tests share."""

from __future__ import annotations

from pathlib import Path

import airflow.sdk  # noqa: F401
import pytest

# Importing Airflow configures the root logger with a handler on the sys.stderr of the moment.
# Imported here, at collection, that is the session's stream; imported first by a command under
# test, it would be that test's captured stderr, closed once the test ends, and every later
# log record (urllib3's retry warnings) would print "--- Logging error ---" into the next
# test's captured stderr.


@pytest.fixture
def good(tmp_path, customers) -> Path:
    path = tmp_path / "day.csv"
    customers.head(600).to_csv(path, index=False)
    return path
