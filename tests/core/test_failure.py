"""The shared failure policy: fail, warn, skip, and dry runs."""

from __future__ import annotations

import pytest

from airflow_mlops.core.errors import ConfigError, DataError
from airflow_mlops.core.failure import FailurePolicy, Outcome, is_deterministic, naming_config


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


@pytest.mark.parametrize(("error", "deterministic"), [
    (ConfigError("field 'target': ..."), True),
    (DataError("data.csv: data set not found"), True),
    (TypeError("__init__() got an unexpected keyword argument 'foo'"), True),
    (ValueError("Input X contains NaN."), True),
    (KeyError("tenure_months"), True),
    (OSError(5, "Input/output error"), False),
    (ConnectionError("tracking server refused the connection"), False),
    (TimeoutError("timed out"), False),
    (RuntimeError("MLflow API request failed"), False),
])
def test_deterministic_errors_are_those_a_retry_cannot_fix(error, deterministic):
    assert is_deterministic(error) is deterministic


def test_naming_config_adds_the_file_and_the_fields_line(tmp_path):
    config = tmp_path / "churn.yaml"
    config.write_text("name: churn\nestimator:\n  steps:\n    - class: a.B\n"
                      "    - class: c.D\n      params:\n        C: -1\n")

    assert naming_config("field 'estimator.steps.1.params.C': bad", str(config)) == \
        f"{config}: field 'estimator.steps.1.params.C' (line 7): bad"
    assert naming_config("field 'target': gone", str(config)) == \
        f"{config}: field 'target': gone"  # not in the file: no line
    assert naming_config("no field here", str(config)) == f"{config}: no field here"
    assert naming_config("field 'target': gone", None) == "field 'target': gone"
