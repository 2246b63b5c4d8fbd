"""Checks: pure functions of facts and profile that return a Verdict."""
