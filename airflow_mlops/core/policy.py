"""The promotion decision: may a challenger replace the champion? Numbers in, Decision out.

Checks, in order, each with a human-readable reason:

- ``bar``: the primary metric meets the absolute threshold;
- ``improvement``: it beats the champion's by at least the required change (MLflow
  MetricThreshold semantics) and strictly;
- ``significance``: the lower bound of the paired bootstrap interval of that gain clears the
  same requirement;
- ``guardrails``: no guardrail metric regresses by more than allowed;
- ``slices``: no slice with enough rows regresses by more than allowed.

All pass: ``promote`` (``needs_approval`` when a human must always approve). A failed check
that the policy escalates (``significance``, ``guardrails`` or ``slices``) makes it
``needs_approval``; any other failed check makes it ``reject``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field

PROMOTE = "promote"
REJECT = "reject"
NEEDS_APPROVAL = "needs_approval"
VERDICTS = (PROMOTE, REJECT, NEEDS_APPROVAL)
ESCALATABLE = ("significance", "guardrails", "slices")
MAX_NAMED_SLICES = 5


@dataclass(frozen=True)
class Check:
    """One rule of the policy, whether it passed, and why."""

    name: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    """A verdict and the human-readable reasons behind it."""

    verdict: str
    reasons: list[str]
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The decision as plain JSON types."""
        return asdict(self)


@dataclass(frozen=True)
class Guardrail:
    """A metric the challenger may not lose more than ``max_regression`` of."""

    metric: str
    challenger: float
    champion: float
    max_regression: float
    greater_is_better: bool = True


@dataclass(frozen=True)
class SliceScore:
    """Both models' metric on the rows of one value of the slice column."""

    value: str
    rows: int
    challenger: float | None
    champion: float | None


@dataclass(frozen=True)
class SliceRule:
    """No slice of ``column`` with at least ``min_rows`` rows may lose more than
    ``max_regression`` of ``metric``."""

    column: str
    metric: str
    min_rows: int
    max_regression: float
    scores: Sequence[SliceScore]
    greater_is_better: bool = True


def better_by(challenger: float, champion: float, greater_is_better: bool) -> float:
    """How much better the challenger is (negative: worse)."""
    return challenger - champion if greater_is_better else champion - challenger


def required_gain(champion: float, min_absolute_change: float, min_relative_change: float) -> float:
    """The gain a challenger needs over ``champion``: the larger of the two requirements."""
    return max(min_absolute_change, min_relative_change * abs(champion))


def clears(gain: float, required: float) -> bool:
    """A gain clears the requirement when it is at least that and strictly positive."""
    return gain > 0 and gain >= required


def interval(gains: Sequence[float], confidence: float) -> tuple[float, float] | None:
    """The two-sided percentile interval of resampled gains; None when none is defined."""
    import numpy as np

    values = np.asarray(gains, dtype=float)
    values = values[~np.isnan(values)]
    if not values.size:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def decide(
    metric: str,
    challenger: float,
    champion: float | None,
    *,
    greater_is_better: bool = True,
    threshold: float | None = None,
    min_absolute_change: float = 0.0,
    min_relative_change: float = 0.0,
    gain_interval: tuple[float, float] | None = None,
    confidence: float | None = None,
    guardrails: Sequence[Guardrail] = (),
    slices: SliceRule | None = None,
    escalate: Collection[str] = (),
    require_approval: bool = False,
) -> Decision:
    """Apply the policy to the challenger's and the champion's numbers.

    ``gain_interval`` is the bootstrap interval of the primary metric's gain at
    ``confidence`` (see :func:`interval`); when ``confidence`` is set but the interval is
    None, the significance check fails (no resample defined the metric).
    """
    checks = []
    if threshold is not None:
        checks.append(_bar(metric, challenger, threshold, greater_is_better))
    if champion is None:
        checks.append(Check("improvement", True, "no champion yet"))
    else:
        required = required_gain(champion, min_absolute_change, min_relative_change)
        gain = better_by(challenger, champion, greater_is_better)
        checks.append(_improvement(metric, challenger, champion, gain, required))
        if confidence is not None:
            checks.append(_significance(metric, gain_interval, confidence, required))
        checks.extend(_guardrail(rule) for rule in guardrails)
        if slices is not None:
            checks.append(_slices(slices))
    return Decision(_verdict(checks, escalate, require_approval), [c.reason for c in checks],
                    checks)


def unusable(reason: str) -> Decision:
    """The decision for a challenger that cannot be loaded or cannot predict: reject."""
    return Decision(REJECT, [reason], [Check("usable", False, reason)])


def _verdict(checks: list[Check], escalate: Collection[str], require_approval: bool) -> str:
    failed = [check.name for check in checks if not check.passed]
    if not failed:
        return NEEDS_APPROVAL if require_approval else PROMOTE
    if all(name in escalate for name in failed):
        return NEEDS_APPROVAL
    return REJECT


def _bar(metric: str, value: float, threshold: float, greater_is_better: bool) -> Check:
    meets = value >= threshold if greater_is_better else value <= threshold
    word = "at least" if greater_is_better else "at most"
    verdict = "meets" if meets else "misses"
    return Check("bar", meets, f"{metric} {value:.4f} {verdict} the bar ({word} {threshold:.4f})")


def _improvement(metric: str, challenger: float, champion: float, gain: float,
                 required: float) -> Check:
    passed = clears(gain, required)
    reason = (f"{metric} {challenger:.4f} vs champion {champion:.4f} (gain {gain:+.4f}, "
              f"required > 0 and >= {required:.4f}{'' if passed else ': keeps the champion'})")
    return Check("improvement", passed, reason)


def _significance(metric: str, bounds: tuple[float, float] | None, confidence: float,
                  required: float) -> Check:
    level = f"{confidence:.0%}"
    if bounds is None:
        return Check("significance", False,
                     f"{metric} gain: no bootstrap resample defined the metric")
    low, high = bounds
    passed = clears(low, required)
    word = "clears" if passed else "does not clear"
    return Check("significance", passed,
                 f"{metric} gain {level} interval [{low:+.4f}, {high:+.4f}]: lower bound {word} "
                 f"the required > 0 and >= {required:.4f}"
                 f"{'' if passed else ' (within noise)'}")


def _guardrail(rule: Guardrail) -> Check:
    loss = -better_by(rule.challenger, rule.champion, rule.greater_is_better)
    passed = loss <= rule.max_regression
    word = "within" if passed else "exceeds"
    return Check("guardrails", passed,
                 f"guardrail {rule.metric} {rule.challenger:.4f} vs champion {rule.champion:.4f}"
                 f" (regression {max(loss, 0.0):.4f} {word} the allowed {rule.max_regression:.4f})")


def _slices(rule: SliceRule) -> Check:
    checked, regressed, skipped = 0, [], 0
    for score in rule.scores:
        if score.rows < rule.min_rows or score.challenger is None or score.champion is None:
            skipped += 1
            continue
        checked += 1
        loss = -better_by(score.challenger, score.champion, rule.greater_is_better)
        if loss > rule.max_regression:
            regressed.append((loss, score))
    regressed.sort(key=lambda item: -item[0])
    scope = (f"slices of {rule.column} by {rule.metric}: {checked} checked"
             f"{f', {skipped} too small or undefined' if skipped else ''}")
    if not regressed:
        return Check("slices", True,
                     f"{scope}, none loses more than {rule.max_regression:.4f}")
    named = ", ".join(
        f"{s.value} ({s.rows} rows) {s.challenger:.4f} vs {s.champion:.4f}"
        for _, s in regressed[:MAX_NAMED_SLICES]
    )
    more = len(regressed) - MAX_NAMED_SLICES
    return Check("slices", False,
                 f"{scope}; {len(regressed)} lose more than {rule.max_regression:.4f}: {named}"
                 f"{f' and {more} more' if more > 0 else ''}")
