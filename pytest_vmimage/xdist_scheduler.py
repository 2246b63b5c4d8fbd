"""A pytest-xdist scheduler that keeps every test of one target on one worker.

Test IDs carry the target label as a parameter (``test_x[D2s_v3]``); the
scope of a test is that label, so xdist's LoadScope logic sends all of a
target's tests to the same worker: one connection per target. Tests without a
target (offline artifact checks) are spread one by one.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling


def scope_of(nodeid: str, labels: list[str]) -> str:
    """The target label among the parameter parts of ``nodeid``, else ``nodeid``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    params = nodeid[nodeid.index("[") + 1 : -1]
    best = ""
    for label in labels:
        if len(label) <= len(best):
            continue
        if (
            params == label
            or params.startswith(label + "-")
            or params.endswith("-" + label)
            or f"-{label}-" in params
        ):
            best = label
    return f"target:{best}" if best else nodeid


def make_host_scheduler(config, log, labels: list[str]):
    class HostScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, labels)

    return HostScheduling(config, log)
