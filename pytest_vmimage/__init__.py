"""pytest-vmimage: check a VM image against the Azure Marketplace rules before submission."""

from pytest_vmimage.catalog import Requirement, requirement
from pytest_vmimage.verdict import FactError, Result, Verdict

__all__ = ["FactError", "Requirement", "Result", "Verdict", "requirement"]
__version__ = "0.1.0"
