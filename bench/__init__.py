"""Benchmarks of the Quorum hot path against bare aiokafka and faust baselines (see README)."""
