"""Windows requirements (guide §3), checked on a running VM over WinRM."""
