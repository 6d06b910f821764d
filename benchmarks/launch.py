"""Measure one command the way ``/usr/bin/time -v`` does, from a small process.

    python benchmarks/launch.py OUT.json -- CMD...

Linux carries a process's peak RSS across exec (``signal->maxrss``), so a client forked
straight from the runner (tens of MB) would report the runner's RSS as its own floor. This
launcher is small: the client forks from it, and it writes the client's own wait4 figures
(wall from fork to reap, utime, stime, maxrss) to OUT.json and exits with the client's code.
"""

import json
import os
import sys
import time


def main() -> int:
    out, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, "usage: launch.py OUT.json -- CMD..."
    t0 = time.perf_counter()
    t0_epoch = time.time()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    figures = {"wall": wall, "utime": ru.ru_utime, "stime": ru.ru_stime,
               "maxrss_kb": ru.ru_maxrss, "returncode": code, "t0_epoch": t0_epoch}  # fmt: skip
    with open(out, "w") as fh:
        json.dump(figures, fh)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
