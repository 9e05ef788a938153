"""The note of a drift-monitor run: what the window showed and whether a retrain was asked.

Read from the monitors' summaries (``check_drift``, ``check_quality``) and the return value of
``request_retrain``: "no drift: 1 of 6 columns drifted (share 0.17 < 0.5)", "drift: 4 of 6
columns drifted (share 0.67 >= 0.5); retrain requested", or "blocked: check_drift failed".
"""

from __future__ import annotations

from typing import Any

MONITOR_TASKS = ("check_drift", "check_quality")
REQUEST_TASK = "request_retrain"
FAIL_TASK = "fail_run_if_a_task_failed"


def monitor_note(xcoms: dict[tuple[str, str], Any], failed_tasks: list[str]) -> str | None:
    """The note for a monitor run given its XComs ((task_id, key) to value) and its failed
    tasks; None when no monitor ran in it."""
    summaries = [xcoms.get((task, "return_value")) for task in MONITOR_TASKS]
    parts = [describe(s) for s in summaries if isinstance(s, dict) and s.get("monitor")]
    failed = [task for task in failed_tasks if task != FAIL_TASK]
    if not parts:  # a monitor run fails through FAIL_TASK, which only its template has
        if FAIL_TASK not in failed_tasks:
            return None
        return f"blocked: {', '.join(sorted(failed)) or FAIL_TASK} failed"
    request = xcoms.get((REQUEST_TASK, "return_value"))
    if isinstance(request, dict) and request.get("requested"):
        parts.append("retrain requested")
    elif any(isinstance(s, dict) and s.get("drifted") for s in summaries):
        parts.append("no retrain requested")
    note = "; ".join(parts)
    return f"blocked: {', '.join(sorted(failed))} failed; {note}" if failed else note


def describe(summary: dict) -> str:
    """One monitor's verdict in a few words."""
    if summary.get("drifted") is None:
        return f"{summary['monitor']} not checked: {str(summary.get('error', 'no verdict'))[:200]}"
    if summary["monitor"] == "quality":
        state = "quality decayed" if summary["drifted"] else "quality held"
        return (f"{state}: {summary.get('metric')} {summary.get('value', float('nan')):.3f} "
                f"vs {summary.get('baseline', float('nan')):.3f} at training")
    share, limit = summary.get("share", 0.0), summary.get("drift_share")
    state, compared = ("drift", ">=") if summary["drifted"] else ("no drift", "<")
    return (f"{state}: {summary.get('drifted_columns')} of {summary.get('columns')} columns "
            f"drifted (share {share:.2f} {compared} {limit})")
