"""The offline agent: no LLM; kernels from parametrised templates chosen by the diagnosis."""
