"""The promotion decision: may a challenger replace the champion?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PROMOTE = "promote"
REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    """A verdict and the human-readable reasons behind it."""

    verdict: str
    reasons: list[str]

    def to_dict(self) -> dict:
        """The decision as plain JSON types."""
        return asdict(self)


def _better_by(challenger: float, champion: float, greater_is_better: bool) -> float:
    return challenger - champion if greater_is_better else champion - challenger


def decide(
    metric: str,
    challenger: float,
    champion: float | None,
    *,
    greater_is_better: bool = True,
    threshold: float | None = None,
    min_absolute_change: float = 0.0,
    min_relative_change: float = 0.0,
) -> Decision:
    """Apply MLflow MetricThreshold semantics to the primary metric.

    The challenger must meet ``threshold`` (the absolute bar). With a champion it must
    also beat it by more than ``min_absolute_change`` and by more than
    ``min_relative_change`` times the champion's value; a tie keeps the champion.
    """
    reasons: list[str] = []
    if threshold is not None:
        meets_bar = challenger >= threshold if greater_is_better else challenger <= threshold
        word = "at least" if greater_is_better else "at most"
        verdict = "meets" if meets_bar else "misses"
        reasons.append(f"{metric} {challenger:.4f} {verdict} the bar ({word} {threshold:.4f})")
        if not meets_bar:
            return Decision(REJECT, reasons)
    if champion is None:
        reasons.append("no champion yet")
        return Decision(PROMOTE, reasons)
    gain = _better_by(challenger, champion, greater_is_better)
    required = max(min_absolute_change, min_relative_change * abs(champion))
    comparison = f"{metric} {challenger:.4f} vs champion {champion:.4f} (gain {gain:+.4f}"
    if gain > required:
        reasons.append(f"{comparison} > required {required:.4f})")
        return Decision(PROMOTE, reasons)
    reasons.append(f"{comparison} <= required {required:.4f})")
    return Decision(REJECT, reasons)
