"""Verdicts: what a check concludes about one requirement on one target.

A check is a pure function of facts and profile that returns a :class:`Verdict`.
The plugin maps verdicts to pytest outcomes and to every report:

========== ================ ===========================================
result     pytest outcome   meaning
========== ================ ===========================================
passed     passed           the requirement is met
warning    passed           a recommendation ("recommandé") is not met
failed     failed           a rule ("doit") is broken
n/a        skipped          the requirement does not apply (reason given)
error      failed / error   a fact could not be determined
========== ================ ===========================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Result(str, enum.Enum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"

    @property
    def report_word(self) -> str:
        """The word of Microsoft's Self-Test API report ("Passed", "Warning", ...)."""
        return {
            "passed": "Passed",
            "warning": "Warning",
            "failed": "Failed",
            "not_applicable": "NotApplicable",
            "error": "Error",
        }[self.value]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    ``actual`` and ``required`` are short human-readable values ("console=ttyS0
    missing", "console=ttyS0 earlyprintk=ttyS0 rootdelay=300"). ``message`` is the
    full sentence a publisher reads: found, required, fix and guide section.
    """

    result: Result
    actual: str = ""
    required: str = ""
    message: str = ""

    @classmethod
    def passed(cls, actual: str, required: str, message: str = "") -> Verdict:
        return cls(Result.PASSED, actual, required, message)

    @classmethod
    def warning(cls, actual: str, required: str, message: str) -> Verdict:
        return cls(Result.WARNING, actual, required, message)

    @classmethod
    def failed(cls, actual: str, required: str, message: str) -> Verdict:
        return cls(Result.FAILED, actual, required, message)

    @classmethod
    def not_applicable(cls, reason: str, required: str = "") -> Verdict:
        if not reason:
            raise ValueError("a not-applicable verdict needs a reason")
        return cls(Result.NOT_APPLICABLE, "", required, reason)

    @classmethod
    def error(cls, message: str, required: str = "") -> Verdict:
        return cls(Result.ERROR, "", required, message)


class FactError(Exception):
    """A fact a check needs could not be determined (missing command, permission
    denied, unreadable file system). The plugin reports it as an *error* of the
    check that needed it, never as a pass."""


def worst(verdicts: list[Verdict]) -> Result:
    """The most severe result among several (failed > error > warning > passed > n/a)."""
    order = [Result.FAILED, Result.ERROR, Result.WARNING, Result.PASSED, Result.NOT_APPLICABLE]
    found = {v.result for v in verdicts}
    for result in order:
        if result in found:
            return result
    return Result.NOT_APPLICABLE
