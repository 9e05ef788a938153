"""A memory cap for a benchmark's child processes: a cgroup v1 memory cgroup of their own.

A method that may need more memory than the machine has (the extraction path at 10^7 rows)
runs inside the cgroup, so when it reaches the cap the kernel's OOM killer picks among the
cgroup's processes only, never the database or anything else on the machine. Needs root and
the cgroup v1 memory controller at ``/sys/fs/cgroup/memory``; without ``--memory-cap`` the
benchmarks need neither.

    with MemoryCap("17G") as cap:
        code = subprocess.call(cap.wrap([sys.executable, ...]))
        usage = cap.usage()    # peak, failcnt, OOM kills since the last reset()
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path("/sys/fs/cgroup/memory")
UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


def parse_size(text: str) -> int:
    """Bytes in ``17G``, ``512M`` or a plain number of bytes."""
    text = text.strip().upper()
    if text[-1:] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


class MemoryCap:
    """A cgroup v1 memory cgroup capped at ``limit`` bytes, no swap, removed on exit."""

    def __init__(self, limit: str, name: str = "mlops-bench") -> None:
        if not (ROOT / "memory.limit_in_bytes").exists():
            raise SystemExit(f"--memory-cap needs the cgroup v1 memory controller at {ROOT}")
        self.limit = parse_size(limit)
        self.path = ROOT / name
        self._oom_kills = 0

    def __enter__(self) -> MemoryCap:
        self.path.mkdir(exist_ok=True)
        self._write("memory.limit_in_bytes", self.limit)
        self._write("memory.swappiness", 0)
        self.reset()
        return self

    def __exit__(self, *exc) -> None:
        self.path.rmdir()  # refused while a process is still inside: the cgroup then stays

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` started inside the cgroup (a shell joins it, then execs the command),
        and first in line for the machine's OOM killer too, should the machine run out."""
        procs = str(self.path / "cgroup.procs")
        join = 'echo $$ > "$0" && echo 1000 > /proc/self/oom_score_adj && exec "$@"'
        return ["sh", "-c", join, procs, *command]

    def reset(self) -> None:
        """Start counting the peak and the failures afresh (before each child)."""
        self._write("memory.max_usage_in_bytes", 0)
        self._write("memory.failcnt", 0)
        self._oom_kills = self._oom_kill_count()

    def usage(self) -> dict:
        """Since the last reset: peak usage (RSS and page cache), allocations refused at the
        cap, processes OOM-killed."""
        return {"cap": self.limit,
                "peak": int(self._read("memory.max_usage_in_bytes")),
                "failcnt": int(self._read("memory.failcnt")),
                "oom_kills": self._oom_kill_count() - self._oom_kills}

    def _oom_kill_count(self) -> int:
        fields = dict(line.split() for line in self._read("memory.oom_control").splitlines())
        return int(fields.get("oom_kill", 0))

    def _read(self, name: str) -> str:
        return (self.path / name).read_text()

    def _write(self, name: str, value: int) -> None:
        (self.path / name).write_text(str(value))
