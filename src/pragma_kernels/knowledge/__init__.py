"""Profiling knowledge: what each profiler metric means and which bottleneck it points to."""

from pragma_kernels.knowledge.compendium import Compendium, MetricDoc, load_compendium

__all__ = ["Compendium", "MetricDoc", "load_compendium"]
