"""`make bench`: throughput and latency against a bare Litestar baseline measured in the same run."""
