"""Where and how torch runs: the device, the CPU thread count and a seeded RNG per call.

Both estimators go through :func:`session` for every fit and predict. torch is imported
only inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

#: environment variable that sets the threads of ``n_jobs=None`` (the default)
THREADS_VARIABLE = "AEIMPUTE_NUM_THREADS"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def n_threads(n_jobs: int | None) -> int:
    """Threads for an ``n_jobs`` setting.

    None (the estimators' default) takes ``AEIMPUTE_NUM_THREADS`` when it is
    set, else every core this process may use; -1 every core; a positive
    integer that many threads.

    Examples
    --------
    >>> n_threads(2)
    2
    >>> n_threads(-1) == available_cores()
    True
    """
    import os

    if n_jobs is None:
        value = os.environ.get(THREADS_VARIABLE, "").strip()
        if not value:
            return available_cores()
        if not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"environment variable {THREADS_VARIABLE}={value!r} must be a positive integer "
                "(the threads aeimpute uses when n_jobs is None)"
            )
        return int(value)
    if n_jobs == -1:
        return available_cores()
    return int(n_jobs)


def resolve_device(device: str) -> Any:
    """The :class:`torch.device` for a ``device`` option.

    ``"auto"`` is CUDA when available, else the CPU. A CUDA device that is
    not available is an error (pass ``"auto"`` to fall back to the CPU).

    Examples
    --------
    >>> str(resolve_device("cpu"))
    'cpu'
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"invalid value {device!r} for parameter 'device': expected 'auto', 'cpu', "
            "'cuda' or 'cuda:N'"
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or device='cpu'"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return dev


def device_for_loading(device: str, path: Any) -> Any:
    """The device a model file at ``path`` is loaded onto, with the way out when the device it
    was saved with is not available here."""
    try:
        return resolve_device(device)
    except ValueError as err:
        raise ValueError(
            f"{path} was saved with device={device!r}, which is not available here ({err}); "
            "load it with device='cpu' (or 'auto'), e.g. Imputer.load(path, device='cpu')"
        ) from err


# torch's intra-op thread count is one per process: overlapping sessions (fits in several
# Python threads) share it. The first session to start records the process's value and the
# last to end puts it back; while several overlap, the largest count asked for applies.
_THREADS_LOCK = threading.Lock()
_THREADS_ACTIVE: list[int] = []
_THREADS_SAVED: list[int] = []


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads; the process's count is restored afterwards.

    Safe when several Python threads run blocks at once: the count is only
    restored when the last of them ends (until then the largest count asked
    for by a running block applies).

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    import torch

    with _THREADS_LOCK:
        if not _THREADS_ACTIVE:
            _THREADS_SAVED[:] = [torch.get_num_threads()]
        _THREADS_ACTIVE.append(n)
        torch.set_num_threads(max(_THREADS_ACTIVE))
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_ACTIVE.remove(n)
            torch.set_num_threads(max(_THREADS_ACTIVE) if _THREADS_ACTIVE else _THREADS_SAVED[0])


@contextlib.contextmanager
def session(device: Any, n_threads: int, seed: int | None = None) -> Iterator[None]:
    """Thread count and (with ``seed``) a private, seeded torch RNG for one call.

    The global torch RNG state is forked, so a call never changes what other
    code draws from it.
    """
    import torch

    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch_threads(n_threads), torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


#: CPU feature flags (Linux ``/proc/cpuinfo``) of native bfloat16 matrix products
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags the operating system reports (empty where it reports none).

    Read once per process: predictions ask for every block of rows.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def native_bfloat16(device: Any) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (faster than float32).

    On the CPU that takes AVX-512 BF16 or AMX instructions, read from the
    flags the operating system reports (Linux; elsewhere the answer is
    False and training stays float32); without them bfloat16 is emulated
    and slower. On CUDA it takes compute capability 8.0 (Ampere) or newer.
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_properties(device).major >= 8
    if device.type != "cpu":
        return False
    return any(flag in _cpu_flags() for flag in _BF16_FLAGS)
