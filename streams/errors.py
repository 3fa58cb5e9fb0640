"""Errors Quorum raises on purpose, so callers can catch ours apart from everyone else's."""

from __future__ import annotations


class QuorumError(Exception):
    """Root of every error Quorum raises on purpose."""


class InfraError(QuorumError):
    """Local Kafka or Redis could not be started, stopped or reached; the message says why."""
