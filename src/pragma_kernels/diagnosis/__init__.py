"""Bottleneck diagnosis from a profile, and current-vs-best comparison."""
