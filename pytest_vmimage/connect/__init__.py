"""Connections to the VMs under test. All remote I/O of the project lives here."""

from __future__ import annotations


class ConnectError(Exception):
    """A target could not be reached or refused our credentials.

    The message is already fit for the publisher: it names the target label and
    the cause ("connection refused", "authentication failed") and never carries a
    secret. Raised once per target; the plugin reports one ERROR per test from it.
    """


class RemoteCommandError(Exception):
    """A command on a reachable target failed in transport (deadline exceeded,
    shell lost, unparsable output). The message never carries a secret."""
