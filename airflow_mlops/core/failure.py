"""The one failure policy every check in the package shares: what a failed check leads to.

A check (data validation, a model gate, a drift test) reports whether it passed and, if
not, why. The policy turns that into one :class:`Verdict`:

- ``on_failure="fail"``: the task fails, without retrying (the data will not change).
- ``on_failure="warn"``: the task succeeds and logs a warning; downstream runs.
- ``on_failure="skip"``: the task is skipped, so are its downstream tasks; the run stays green.
- ``dry_run=True``: the check runs and reports as usual, but never blocks and has no side
  effects (no quarantine, no alias moves); the verdict says what would have happened.

Errors are sorted the same way: one a retry cannot fix (:func:`is_deterministic`) fails the
task once, with a message naming the config file and field (:func:`naming_config`); any other
(I/O, a tracking server out of reach) keeps the task's retries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from airflow_mlops.core.errors import ConfigError, MlopsError

NAMED_FIELD = re.compile(r"field '([\w.]+)': ")


class Outcome(str, Enum):
    """What the task does after a check."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


ON_FAILURE_CHOICES = (Outcome.FAIL.value, Outcome.WARN.value, Outcome.SKIP.value)


@dataclass(frozen=True)
class Verdict:
    """The decision for one check.

    :param outcome: what to do now.
    :param enforced: what the policy does outside a dry run (equals ``outcome`` otherwise).
    :param reason: why the check failed; empty when it passed.
    :param dry_run: whether this was a dry run: report only, no side effects.
    """

    outcome: Outcome
    enforced: Outcome
    reason: str = ""
    dry_run: bool = False

    @property
    def passed(self) -> bool:
        """Whether the check passed."""
        return self.outcome is Outcome.PASS

    def message(self) -> str:
        """One line for logs and exceptions."""
        if self.passed:
            return "check passed"
        if self.dry_run:
            return f"dry run, would {self.enforced.value}: {self.reason}"
        return self.reason

    def to_dict(self) -> dict:
        """JSON-ready form, for XCom summaries."""
        return {"outcome": self.outcome.value, "enforced": self.enforced.value,
                "reason": self.reason, "dry_run": self.dry_run}


@dataclass(frozen=True)
class FailurePolicy:
    """What a failed check leads to.

    :param on_failure: ``fail``, ``warn`` or ``skip``.
    :param dry_run: report only; a failure becomes a warning and side effects are skipped.
    """

    on_failure: str = Outcome.FAIL.value
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.on_failure not in ON_FAILURE_CHOICES:
            raise ConfigError(
                f"on_failure={self.on_failure!r} is not one of {', '.join(ON_FAILURE_CHOICES)}"
            )
        if not isinstance(self.dry_run, bool):
            raise ConfigError(f"dry_run={self.dry_run!r} must be true or false")

    def decide(self, *, passed: bool, reason: str = "") -> Verdict:
        """The verdict for a check that ``passed`` or failed because of ``reason``."""
        if passed:
            return Verdict(Outcome.PASS, Outcome.PASS, dry_run=self.dry_run)
        enforced = Outcome(self.on_failure)
        outcome = Outcome.WARN if self.dry_run else enforced
        return Verdict(outcome, enforced, reason, dry_run=self.dry_run)


def is_deterministic(exc: BaseException) -> bool:
    """Whether a retry cannot fix ``exc``: it fails the same way with the same config and data.

    These are the errors the user must fix (:class:`~airflow_mlops.core.errors.MlopsError`:
    configs, data, suites) and the ``TypeError``, ``ValueError`` and ``KeyError`` that
    scikit-learn and pandas raise about parameters, inputs and missing columns. ``OSError``
    (files, network) and the tracking server's own errors may pass on a retry.
    """
    if isinstance(exc, OSError):
        return False
    return isinstance(exc, (MlopsError, TypeError, ValueError, KeyError))


def naming_config(message: str, config_file: str | None) -> str:
    """``message`` prefixed with ``config_file``; a field it names gets its line there.

    ``field 'estimator.steps.1.params.C': ...`` becomes
    ``models/churn.yaml: field 'estimator.steps.1.params.C' (line 17): ...``.
    """
    if not config_file:
        return message
    from airflow_mlops.core.config import field_lines

    if named := NAMED_FIELD.match(message):
        field = named.group(1)
        location = tuple(int(part) if part.isdigit() else part for part in field.split("."))
        (line,) = field_lines(config_file, [location])
        if line:
            message = f"field '{field}' (line {line}): {message[named.end():]}"
    return f"{config_file}: {message}"
