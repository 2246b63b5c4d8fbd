"""Artifacts checked offline before submission (guide §1, §2.1, §3.4, §5.2, §5.3): the VHD
files, their SAS URIs and the offer/SKU manifest (``pytest_vmimage.artifacts_plugin``)."""
