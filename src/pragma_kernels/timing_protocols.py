"""The timing protocols as one tagged union, so a job carries its protocol typed."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pragma_kernels.timing import Protocol
from pragma_kernels.timing_gpu import GpuProtocol

TimingProtocol = Annotated[Protocol | GpuProtocol, Field(discriminator="kind")]
