"""The bottleneck classes the diagnosis names (defined in pragma_kernels.bottlenecks, below
the knowledge compendium that uses them too)."""

from pragma_kernels.bottlenecks import CPU_CLASSES, GPU_CLASSES, Bottleneck

__all__ = ["CPU_CLASSES", "GPU_CLASSES", "Bottleneck"]
