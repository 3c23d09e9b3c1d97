"""Executors for sweep points: serial, a local process pool, dask, MPI.
Anything that is a ``concurrent.futures.Executor`` works."""
import concurrent.futures as cf
import os
import sys
from numbers import Integral

# Exceptions that mean "the worker died", not "the point is bad": retried.
WORKER_LOST = ("BrokenProcessPool", "BrokenExecutor", "KilledWorker", "CommClosedError",
               "WorkerLostError", "StreamClosedError")


def _worker_init():
    """Local pool workers die with their parent, the driver (Linux), so a
    killed driver leaves no orphans burning cores.  They ignore Ctrl-C (the
    terminal sends it to the whole process group): the driver stops them
    (:func:`abandon`) and reports the interruption once."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # parent already gone
                os._exit(1)
        except Exception:  # pragma: no cover - best effort
            pass


def abandon(executor):
    """After Ctrl-C: stop a local pool's workers now instead of waiting for
    their points (points already stored stay for ``--resume``)."""
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        proc.terminate()


class SerialExecutor(cf.Executor):
    """Runs each call at submit time in this process (debugging, theory mode)."""

    def submit(self, fn, /, *args, **kwargs):
        f = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: B902 - stored in the future
            f.set_exception(err)
        return f


def local_pool(workers=None):
    """A process pool on this machine, ``workers`` processes (default: one
    per core).  Workers are started with 'spawn', never 'fork' (safe in
    programs that hold threads, e.g. a dask client), as direct children of
    the driver, and on Linux they are killed when the driver dies
    (PR_SET_PDEATHSIG): a killed driver leaves no orphans.  ('forkserver'
    would make the fork server their parent, and it stays alive as long as
    they do.)"""
    import multiprocessing as mp

    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, Integral) or not 1 <= workers <= 4096:
        raise ValueError(f"workers = {workers!r} must be an integer in [1, 4096]")
    return cf.ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"),
                                  initializer=_worker_init)


def check_executor_spec(spec):
    """The syntax of an executor spec, checked without starting anything."""
    if not isinstance(spec, str):
        raise ValueError(f"executor = {spec!r} must be an Executor or one of "
                         f"serial, local, local:N, dask:ADDRESS, mpi")
    kind, _, arg = spec.partition(":")
    if kind == "local" and arg:
        try:
            n = int(arg)
        except ValueError:
            raise ValueError(f"executor = {spec!r}: N in local:N must be an integer") from None
        if not 1 <= n <= 4096:
            raise ValueError(f"executor = {spec!r}: workers = {n} must be an integer in "
                             f"[1, 4096]")
        return
    if kind == "dask" and not arg:
        raise ValueError("executor = 'dask' needs a scheduler: dask:ADDRESS or "
                         "dask:scheduler.json")
    if (kind in ("serial", "mpi", "local") and not arg) or (kind == "dask" and arg):
        return
    raise ValueError(f"executor = {spec!r} must be one of serial, local, local:N, "
                     f"dask:ADDRESS, mpi")


def make_executor(spec):
    """An executor from a spec string: ``serial``, ``local``, ``local:N``,
    ``dask:ADDRESS`` (a running scheduler, e.g. ``dask:tcp://host:8786`` or
    ``dask:scheduler.json``), ``mpi`` (needs ``mpiexec -n K python -m
    mpi4py.futures ...``).  Returns ``(executor, close)``."""
    if not isinstance(spec, str):
        raise ValueError(f"executor = {spec!r} must be an Executor or one of "
                         f"serial, local, local:N, dask:ADDRESS, mpi")
    kind, _, arg = spec.partition(":")
    if kind == "serial" and not arg:
        return SerialExecutor(), lambda: None
    if kind == "local":
        n = None
        if arg:
            try:
                n = int(arg)
            except ValueError:
                raise ValueError(f"executor = {spec!r}: N in local:N must be an integer") from None
        ex = local_pool(n)
        return ex, lambda: ex.shutdown(wait=True, cancel_futures=True)
    if kind == "dask":
        if not arg:
            raise ValueError("executor = 'dask' needs a scheduler: dask:ADDRESS or "
                             "dask:scheduler.json")
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("executor dask:... needs dask.distributed: "
                             "pip install 'dask[distributed]'") from None
        client = (Client(scheduler_file=arg) if arg.endswith(".json") and os.path.exists(arg)
                  else Client(arg))
        return client.get_executor(), client.close
    if kind == "mpi" and not arg:
        try:
            from mpi4py.futures import MPIPoolExecutor
        except ImportError:
            raise ValueError("executor mpi needs mpi4py: pip install mpi4py") from None
        ex = MPIPoolExecutor()
        return ex, lambda: ex.shutdown(wait=True)
    raise ValueError(f"executor = {spec!r} must be one of serial, local, local:N, "
                     f"dask:ADDRESS, mpi")


def _window(ex):
    """How many points to keep in flight: enough to keep every worker busy,
    few enough that a pool breaking takes few points with it."""
    if isinstance(ex, SerialExecutor):
        return 1
    n = getattr(ex, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return 2 * n
    return 100_000


def _hint(err):
    if type(err).__name__ == "BrokenProcessPool":
        return ("; workers of a local pool die at start when the calling script lacks an "
                "'if __name__ == \"__main__\":' guard")
    return ""


def _worker_lost(err):
    return any(c.__name__ in WORKER_LOST for c in type(err).__mro__)


def _replacement(ex):
    """A fresh pool like ``ex`` if ``ex`` is a broken local process pool."""
    if isinstance(ex, cf.ProcessPoolExecutor) and getattr(ex, "_broken", False):
        return cf.ProcessPoolExecutor(max_workers=ex._max_workers, mp_context=ex._mp_context,
                                      initializer=_worker_init)
    return None
