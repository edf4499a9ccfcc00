"""Live processes as /proc shows them (Linux), for tests about worker processes."""

from __future__ import annotations

from pathlib import Path


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # the process is gone
    return fields[0], int(fields[1])


def is_running(pid: int) -> bool:
    """The process exists and is neither a zombie nor dead."""
    found = _state_and_parent(pid)
    return found is not None and found[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """Running processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = int(entry.name)
            stat = _state_and_parent(child)
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                found.append(child)
    return found
