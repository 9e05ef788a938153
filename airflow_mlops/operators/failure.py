"""The shared failure policy in Airflow terms: fail, skip or warn after a check.

Operators that run a check take ``on_failure`` and ``dry_run``, build a
:class:`~airflow_mlops.core.failure.FailurePolicy` from them in ``__init__`` (so a typo fails
at parse time), push their summary, then call :func:`enforce` with the policy's verdict.
"""

from __future__ import annotations

from logging import Logger

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops.core.failure import Outcome, Verdict


def enforce(verdict: Verdict, log: Logger) -> None:
    """Fail the task (no retry), skip it (and its downstream tasks), or log a warning."""
    if verdict.outcome is Outcome.FAIL:
        raise AirflowFailException(verdict.message())
    if verdict.outcome is Outcome.SKIP:
        raise AirflowSkipException(verdict.message())
    if verdict.outcome is Outcome.WARN:
        log.warning("%s", verdict.message())
