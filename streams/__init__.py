"""Quorum's stream application: Faust app, settings, topics, state and CLI."""
