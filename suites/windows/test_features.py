"""Test tool: roles and features Azure does not support, one result per feature."""

import pytest

from pytest_vmimage import requirement
from pytest_vmimage.checks import windows


@pytest.mark.parametrize(
    "feature",
    windows.UNSUPPORTED_FEATURE_NAMES,
    ids=[name.replace(" ", "-").replace("/", "") for name in windows.UNSUPPORTED_FEATURE_NAMES],
)
@requirement("WIN-010", "Unsupported roles and features must not be installed", guide="tool")
def test_unsupported_feature_absent(windows_facts, vm_profile, feature):
    return windows.unsupported_feature(windows_facts, vm_profile, feature)
