"""What every command shares: its exit codes and the plain-text table it prints."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def table(rows: list[tuple[str, ...]]) -> str:
    """``rows`` (the first one the header) as aligned columns; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)
