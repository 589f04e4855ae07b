"""pragma-kernels: verified, faster kernels for PyTorch operators."""

__version__ = "0.1.0"
