"""Checks: pure functions of facts and profile that return a Verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_vmimage.verdict import Result, Verdict


def rule_added_2026(verdict: Verdict, profile: Mapping[str, Any]) -> Verdict:
    """Apply the profile to a rule added in 2026-11 (LNX-030...043, WIN-014): under
    ``guide-2016`` (``rules_2026_result = "warning"``) a broken rule warns instead of
    failing, and the message says why; every other result is kept as it is."""
    if verdict.result is not Result.FAILED or profile.get("rules_2026_result", "failed") == "failed":
        return verdict
    return Verdict.warning(
        verdict.actual,
        verdict.required,
        f"{verdict.message} (guide-2016 profile: this rule was added to the catalogue in 2026-11 "
        "from today's certification, so it warns here; it fails under --vm-profile current)",
    )
