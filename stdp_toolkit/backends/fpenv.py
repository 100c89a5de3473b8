"""Subnormal floats: flush them to zero in every backend.

A trace or conductance that decays by forward Euler, ``x -= (dt/tau) x``, underflows into the
subnormal range and then sticks at a tiny value forever, because ``(dt/tau) x`` rounds to 0. Every
later step of that neuron then does subnormal arithmetic, which Intel cores run ~100x slower than
normal arithmetic (measured: 153.7 instead of 14.9 ms per training sample at 400 neurons). Values
below 2.2e-308 have no effect on any result, so the simulation treats them as zero:

* compiled backends set flush-to-zero (FTZ) and denormals-are-zero (DAZ) at the start of the
  program (:data:`COMPILED_CODE`) and write whether that took effect to ``fpenv.txt`` in their
  results folder (:func:`compiled_mode`);
* the runtime backend sets both only while the network runs (:func:`flush_denormals`), so the
  user's own numpy work in the same process is never affected;
* the network zeroes subnormal state variables once per presentation (``builder``), which removes
  the cause on any CPU, FTZ or not.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform

REPORT = "fpenv.txt"

# main() code of the standalone program, before anything is simulated. GCC/Clang builtins need no
# header, so the code can be inserted as it is. New threads (OpenMP) inherit the setting.
COMPILED_CODE = f"""
{{  // stdp_toolkit: flush subnormal floats to zero (see stdp_toolkit/backends/fpenv.py)
    int _ftz_daz = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x8040u);   // FTZ (bit 15) | DAZ (bit 6)
    _ftz_daz = (__builtin_ia32_stmxcsr() & 0x8040u) == 0x8040u;
#elif defined(__aarch64__)
    unsigned long _fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(_fpcr));
    _fpcr |= (1ul << 24);                                          // FZ: flush inputs and results
    __asm__ __volatile__("msr fpcr, %0" : : "r"(_fpcr));
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(_fpcr));
    _ftz_daz = (_fpcr >> 24) & 1ul;
#endif
    std::ofstream _fp_report((brian::results_dir + "{REPORT}").c_str());
    _fp_report << (_ftz_daz ? "ftz_daz" : "subnormals") << std::endl;
}}
"""


def compiled_mode(results_dir: str) -> bool | None:
    """Whether the last compiled run flushed subnormals (None: no report in ``results_dir``)."""
    try:
        with open(os.path.join(results_dir, REPORT)) as fh:
            return fh.read().strip() == "ftz_daz"
    except OSError:
        return None


# --- runtime backend: glibc's fenv, per thread ---------------------------------------------------
# x86-64: fenv_t ends with the SSE control register MXCSR (byte offset 28), FTZ | DAZ = 0x8040.
# aarch64: fenv_t starts with FPCR, FZ = bit 24.
_LAYOUT = {"x86_64": (28, 0x8040), "amd64": (28, 0x8040), "aarch64": (0, 1 << 24), "arm64": (0, 1 << 24)}


def _libm():
    name = ctypes.util.find_library("m")
    if not name or platform.system() != "Linux":
        return None
    try:
        lib = ctypes.CDLL(name)
        return lib if hasattr(lib, "fegetenv") and hasattr(lib, "fesetenv") else None
    except OSError:
        return None


def _get(lib):
    env = (ctypes.c_uint8 * 128)()  # larger than any fenv_t
    if lib.fegetenv(env) != 0:
        raise OSError("fegetenv failed")
    return env


def _bits(env, offset) -> int:
    return int.from_bytes(bytes(env[offset:offset + 4]), "little")


@contextlib.contextmanager
def flush_denormals():
    """Within the block, this thread flushes subnormal floats to zero; restored afterwards.

    Yields True where that took effect (glibc on x86-64 or aarch64), False elsewhere: the network's
    own per-presentation flush (see module doc) still keeps the slow case rare there.
    """
    lib = _libm()
    layout = _LAYOUT.get(platform.machine().lower())
    if lib is None or layout is None:
        yield False
        return
    offset, mask = layout
    saved = _get(lib)
    new = (ctypes.c_uint8 * len(saved)).from_buffer_copy(saved)
    new[offset:offset + 4] = list((_bits(saved, offset) | mask).to_bytes(4, "little"))
    active = lib.fesetenv(new) == 0 and (_bits(_get(lib), offset) & mask) == mask
    try:
        yield active
    finally:
        lib.fesetenv(saved)
