"""The shared failure policy: fail, warn, skip, and dry runs."""

from __future__ import annotations

import pytest

from airflow_mlops.core.errors import ConfigError
from airflow_mlops.core.failure import FailurePolicy, Outcome


@pytest.mark.parametrize("on_failure", ["fail", "warn", "skip"])
def test_a_passed_check_passes_whatever_the_policy(on_failure):
    verdict = FailurePolicy(on_failure=on_failure).decide(passed=True)
    assert verdict.outcome is Outcome.PASS
    assert verdict.passed
    assert verdict.message() == "check passed"


@pytest.mark.parametrize(("on_failure", "outcome"),
                         [("fail", Outcome.FAIL), ("warn", Outcome.WARN), ("skip", Outcome.SKIP)])
def test_a_failed_check_follows_on_failure(on_failure, outcome):
    verdict = FailurePolicy(on_failure=on_failure).decide(passed=False, reason="3 rows bad")
    assert verdict.outcome is outcome
    assert verdict.enforced is outcome
    assert not verdict.dry_run
    assert verdict.message() == "3 rows bad"


def test_the_default_is_fail():
    assert FailurePolicy().decide(passed=False, reason="x").outcome is Outcome.FAIL


@pytest.mark.parametrize("on_failure", ["fail", "warn", "skip"])
def test_a_dry_run_only_warns_and_says_what_would_have_happened(on_failure):
    verdict = FailurePolicy(on_failure=on_failure, dry_run=True).decide(passed=False,
                                                                        reason="3 rows bad")
    assert verdict.outcome is Outcome.WARN
    assert verdict.enforced is Outcome(on_failure)
    assert verdict.dry_run
    assert verdict.message() == f"dry run, would {on_failure}: 3 rows bad"
    assert verdict.to_dict() == {"outcome": "warn", "enforced": on_failure,
                                 "reason": "3 rows bad", "dry_run": True}


@pytest.mark.parametrize("bad", ["raise", "FAIL", "", None])
def test_an_unknown_on_failure_is_a_config_error_naming_the_choices(bad):
    with pytest.raises(ConfigError, match="is not one of fail, warn, skip"):
        FailurePolicy(on_failure=bad)


def test_dry_run_must_be_a_boolean():
    with pytest.raises(ConfigError, match="dry_run='yes'"):
        FailurePolicy(dry_run="yes")
