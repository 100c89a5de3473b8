"""The compiled backends' build cache and the life of the simulation program.

A network is generated and compiled once into a folder named by what its code depends on
(:meth:`~stdp_toolkit.backends.standalone.StandaloneSimulator._key`); every later chunk, run or
process reuses it. Processes that share a folder lock it (:func:`build_lock`). The program runs in
a session of its own, so that Ctrl-C stops Python cleanly instead of killing the program under Brian2.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess

try:
    import fcntl
except ImportError:  # not on Windows: concurrent runs of one build are not locked there
    fcntl = None

BUILD_ENV = "STDP_BUILD_DIR"


def _run_command() -> list[str]:
    """How the compiled program is started: ``setpriv --pdeathsig TERM`` (util-linux, where present)
    ends it with the process that started it, e.g. an evaluation worker stopped by its pool, or a
    run killed with kill -9. Its own session comes from :func:`_program_in_own_session`."""
    return ["setpriv", "--pdeathsig", "TERM", "./main"] if shutil.which("setpriv") else ["./main"]


def _call_in_own_session(*args, **kwargs) -> int:
    """``subprocess.call`` for the simulation program: it runs in a session of its own, so Ctrl-C
    in a terminal (SIGINT to the foreground process group) reaches Python only, which stops the
    program and keeps the last checkpoint, instead of killing it under Brian2 (an IndexError on its
    half-written results). SIGINT stays blocked until the program is in its session: a Ctrl-C at
    the start used to kill it (Python unblocks signals in the child before it calls setsid), and a
    job with SIGINT ignored then failed with "Project run failed". Python gets that Ctrl-C once the
    program has started."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc = subprocess.Popen(*args, start_new_session=True, **kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    with proc:
        try:
            return proc.wait()
        except BaseException:
            proc.kill()
            raise


@contextlib.contextmanager
def _program_in_own_session():
    """Brian2 starts the program with ``subprocess.call``: see :func:`_call_in_own_session`."""
    call = subprocess.call
    subprocess.call = _call_in_own_session
    try:
        yield
    finally:
        subprocess.call = call


RUN_COMMAND = _run_command()


def default_build_root() -> str:
    return os.environ.get(BUILD_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "stdp_toolkit", "builds")


def _build_incremental(device, directory: str, verbose: bool) -> None:
    """Generate and compile, recompiling only what changed.

    Every object file depends on the makefile, and Brian2 lists some files and clocks in an
    order that depends on Python's per-process string hashing. A cached build directory would
    then be recompiled from scratch (~40 s) about every other time. Where a regenerated top-level
    file holds exactly the same lines as before in another order, the old file (and its time
    stamp) is kept, so ``make`` reuses the compiled objects.
    """
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    names = ("makefile", "main.cpp", "run.cpp")
    before = {}
    for name in names:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path) as fh:
                before[name] = (fh.read(), os.stat(path))
    device.build(directory=directory, compile=False, run=False, with_output=verbose)
    for name, (old, st) in before.items():
        path = os.path.join(directory, name)
        with open(path) as fh:
            new = fh.read()
        if new != old and sorted(new.split()) == sorted(old.split()):
            with open(path, "w") as fh:
                fh.write(old)
        if sorted(new.split()) == sorted(old.split()):
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    compiler, _ = get_compiler_and_args()
    device.compile_source(directory, compiler, False, False)


@contextlib.contextmanager
def _compile_interruptible():
    """Ctrl-C during compilation is an interruption, not a compiler failure.

    Brian2 runs ``make`` through ``os.system``, which ignores SIGINT in Python while ``make``
    runs; a Ctrl-C then kills ``make`` and surfaces as "Project compilation failed (error code: 2)"
    where 2 is the wait status of a child killed by SIGINT (an exit code of 2 would read 512).
    """
    try:
        yield
    except RuntimeError as exc:
        import re

        code = re.search(r"error code: (\d+)", str(exc))
        if code and int(code.group(1)) & 0x7F in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            raise KeyboardInterrupt from None
        raise


@contextlib.contextmanager
def build_lock(build_dir: str, exclusive: bool):
    """Lock shared by every process that uses one cached build folder (two seeds in two terminals).

    Runs hold it shared, many at a time. Building (which rewrites sources and static arrays) holds
    it exclusively, so it waits for running programs; see :meth:`Simulator.cleanup_run_args`.
    """
    with open(build_dir + ".lock", "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield fh
