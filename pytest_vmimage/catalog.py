"""Requirements as data: the declaration that ties a check to a catalogue ID.

A suite file reads like the catalogue table::

    @requirement("LNX-013", "The kernel boot line carries the serial console and rootdelay",
                 guide="2.5")
    def test_kernel_boot_line(linux_facts, vm_profile):
        return linux.kernel_boot_line(linux_facts, vm_profile)

The test returns a :class:`~pytest_vmimage.verdict.Verdict`; the plugin turns it
into the pytest outcome and every report. IDs are the project's public contract
(``../shared/REQUIREMENTS.md``): ``LNX``, ``WIN``, ``VHD``, ``SAS`` or ``SKU``, a
dash and three digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest

ID_PATTERN = re.compile(r"^(LNX|WIN|VHD|SAS|SKU)-[0-9]{3}$")
SEVERITIES = ("fail", "warn")

# What a requirement is checked on, by ID prefix.
KIND_BY_PREFIX = {"LNX": "linux", "WIN": "windows", "VHD": "artifact", "SAS": "artifact", "SKU": "artifact"}

ATTRIBUTE = "__vm_requirement__"
MARKER = "vm_requirement"

F = TypeVar("F", bound=Callable)


class DeclarationError(ValueError):
    """A requirement declaration that breaks the catalogue's rules."""


@dataclass(frozen=True)
class Requirement:
    """One catalogue entry as the code declares it.

    ``severity`` is the worst result the requirement can give: ``fail`` or
    ``warn`` (a ``warn`` requirement never fails, whatever the profile).
    """

    id: str
    title: str
    guide: str
    severity: str = "fail"

    @property
    def kind(self) -> str:
        """``linux``, ``windows`` or ``artifact``: what the check runs against."""
        return KIND_BY_PREFIX[self.id[:3]]


def requirement(req_id: str, title: str, *, guide: str, severity: str = "fail") -> Callable[[F], F]:
    """Declare that the decorated test checks requirement ``req_id``.

    ``guide`` is the section of the source ("2.5", "tool 40", "pc"). A malformed ID
    or severity raises at import, which pytest reports as a collection error.
    """
    if not isinstance(req_id, str) or not ID_PATTERN.match(req_id):
        raise DeclarationError(
            f"requirement ID {req_id!r} is not in the catalogue format "
            "(LNX|WIN|VHD|SAS|SKU, a dash, three digits, e.g. LNX-013)"
        )
    if severity not in SEVERITIES:
        raise DeclarationError(f"{req_id}: severity {severity!r} must be one of {', '.join(SEVERITIES)}")
    if not title or not guide:
        raise DeclarationError(f"{req_id}: a requirement needs a title and a guide section")
    declared = Requirement(req_id, title, guide, severity)

    def decorate(func: F) -> F:
        if hasattr(func, ATTRIBUTE):
            raise DeclarationError(f"{func.__name__} declares two requirements; one check per requirement")
        setattr(func, ATTRIBUTE, declared)
        return pytest.mark.vm_requirement(id=req_id, severity=severity)(func)

    return decorate


def requirement_of(obj: object) -> Requirement | None:
    """The requirement a test function declares, if any."""
    return getattr(obj, ATTRIBUTE, None)
