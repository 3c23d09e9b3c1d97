"""A sweep's progress: tqdm where installed, a plain bar otherwise, or a callback."""
import os
import sys
import time


class _SimpleBar:
    def __init__(self, total, initial, stream):
        self.total, self.n, self.stream = total, initial, stream
        self.start, self.start_n, self.last = time.monotonic(), initial, 0.0
        self._draw()

    def update(self, k=1):
        self.n += k
        now = time.monotonic()
        if now - self.last >= 0.2 or self.n >= self.total:
            self.last = now
            self._draw()

    def _draw(self):
        frac = self.n / self.total if self.total else 1.0
        done = self.n - self.start_n
        el = time.monotonic() - self.start
        eta = el * (self.total - self.n) / done if done else float("nan")
        bar = "#" * int(30 * frac)
        self.stream.write(f"\rsweep [{bar:<30}] {self.n}/{self.total} points  "
                          f"{el:6.1f} s  ETA {eta:6.1f} s")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _Progress:
    def __init__(self, progress, total, initial):
        self.fn, self.bar = None, None
        if callable(progress) and not isinstance(progress, bool):
            self.fn = progress
        elif progress or (progress is None and sys.stderr.isatty()):
            try:
                from tqdm import tqdm

                try:  # a terminal that reports no width (some batch consoles): 80 columns
                    width = os.get_terminal_size(sys.stderr.fileno()).columns
                except (OSError, ValueError):
                    width = 0
                self.bar = tqdm(total=total, initial=initial, unit="pt", desc="sweep",
                                file=sys.stderr, dynamic_ncols=width > 0,
                                ncols=None if width > 0 else 80,
                                nrows=None if width > 0 else 24)
            except ImportError:
                self.bar = _SimpleBar(total, initial, sys.stderr)
        self.total, self.n = total, initial
        if self.fn:
            self.fn(self.n, self.total)

    def update(self):
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.fn:
            self.fn(self.n, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()
