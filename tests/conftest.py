"""Self-tests of pytest-vmimage. ``pytester`` runs pytest in a temp dir with the
plugin loaded through its entry point, as a user's run would."""

pytest_plugins = ["pytester", "tests.winrm_fixtures"]
