"""pragma-kernels: verified, faster kernels for PyTorch operators."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from pragma_kernels import optimize` without importing torch for every CLI start.
    if name in ("optimize", "OptimizeResult"):
        from pragma_kernels import api

        return getattr(api, name)
    raise AttributeError(name)
