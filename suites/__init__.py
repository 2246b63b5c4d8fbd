"""The requirement suites (installed as ``pytest_vmimage.suites``)."""
