"""Faust agents and services, one module per input stream."""
