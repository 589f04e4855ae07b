# class: work on a side CUDA stream
# expect: forbidden_code|background_work|numerical_mismatch
# why: launches 20 passes on a side stream and returns; the caller's stream never waits for them
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())  # the inputs are ready; nothing waits back
        with torch.cuda.stream(side):
            for _ in range(20):
                relu_kernel[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024)
        return out
