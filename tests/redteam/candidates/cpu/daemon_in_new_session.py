# class: subprocess in a new session
# expect: forbidden_code|background_work|inconsistent_results
# why: a double-forked daemon (not our child) computes; on repeated inputs nobody waits for it
# job: time
import mmap
import os
import select

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

extern "C" void relu(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

extern "C" void copy(const float* src, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = src[i];
}
"""

lib = cpp.load(SOURCE, flags=["-O3"])


class Daemon:
    """relu on a shared input buffer whenever a byte arrives; b"w" asks for an answer."""

    def __init__(self, numel: int):
        size = numel * 4
        self.inp = torch.frombuffer(mmap.mmap(-1, size), dtype=torch.float32)
        self.out = torch.frombuffer(mmap.mmap(-1, size), dtype=torch.float32)
        requests, self.request = os.pipe()
        self.done, answers = os.pipe()
        pid = os.fork()
        if pid == 0:  # the middle process: a new session, one more fork, exit
            try:
                os.setsid()
                if os.fork() == 0:
                    os.close(self.request)  # else a gone worker would never read as EOF
                    self.serve(requests, answers)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)  # reaped at once: the daemon is nobody's child we can see
        os.close(requests)
        os.close(answers)

    def serve(self, requests: int, answers: int) -> None:
        relu, n = lib.relu._symbol, self.inp.numel()  # raw C calls: no torch in the daemon
        src, dst = self.inp.data_ptr(), self.out.data_ptr()
        while select.select([requests], [], [], 30)[0]:
            byte = os.read(requests, 1)
            if not byte:
                break  # the worker is gone
            relu(src, dst, n)
            if byte == b"w":
                os.write(answers, b"k")

    def run(self, x: torch.Tensor, wait: bool) -> torch.Tensor:
        lib.copy(x, self.inp, x.numel())
        os.write(self.request, b"w" if wait else b"g")
        if wait:
            os.read(self.done, 1)
        return self.out.view(x.shape)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.last = None
        self.daemon = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        if self.daemon is None or self.daemon.inp.numel() != x.numel():
            self.daemon = Daemon(x.numel())
        repeated = x.data_ptr() == self.last  # the timing loop reuses its inputs
        self.last = x.data_ptr()
        return self.daemon.run(x, wait=not repeated)
