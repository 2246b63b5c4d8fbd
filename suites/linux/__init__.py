"""Linux requirements (guide §2), checked on a running VM over SSH."""
