"""``run.py --profile``: the batcher cases of a scenario once under py-spy (CPU samples of
every thread, idle excluded), summarised as text in ``benchmarks/profiles/``: the functions
with the most samples on their own (self) and on the stack (inclusive)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from benchmarks.common import BENCH, PROFILE
from benchmarks.scenarios import SCENARIOS, HarnessError, Params, run_dir_for

OUT = BENCH / "profiles"


def summarise(raw: Path, title: str, top: int = 30) -> str:
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [re.sub(r"/.*/site-packages/", "", f) for f in frames]
        frames = [re.sub(r"/.*?/(batcher|benchmarks)/", r"\1/", f) for f in frames]
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        if not frames:
            continue
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    lines = [f"# {title}", f"# {total} CPU samples at 250 Hz (idle excluded)", "", "## self"]
    for f, n in self_t.most_common(top):
        lines.append(f"{100 * n / max(total, 1):5.1f}%  {f}")
    lines += ["", "## inclusive"]
    for f, n in incl.most_common(top):
        lines.append(f"{100 * n / max(total, 1):5.1f}%  {f}")
    return "\n".join(lines) + "\n"


def profile(names: list[str], params: Params, only: list[str] | None) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        for case in SCENARIOS[name](params):
            if case.tool not in ("batcher", "aiohttp") or case.missing():
                continue
            if only and not any(o.lower() in case.name.lower() for o in only):
                continue
            run_dir = run_dir_for(name, case, 99)
            raw = run_dir / "py-spy.raw"
            server_raw = run_dir / "sandbox-py-spy.raw"
            server_raw.unlink(missing_ok=True)
            PROFILE.output = raw
            PROFILE.server_output = server_raw if case.target == "sandbox" else None
            try:
                sample = case.run(run_dir)
            except HarnessError as exc:
                print(f"  ! {case.name}: {exc}")
                continue
            finally:
                PROFILE.output = PROFILE.server_output = None
            slug = run_dir.parent.name
            title = f"{name}: {case.name} → {case.target} ({case.note}); wall {sample.wall:.2f} s"
            text = summarise(raw, title)
            if server_raw.exists():
                text += "\n" + summarise(server_raw, f"the sandbox process during: {title}")
            (OUT / f"{name}-{slug}.txt").write_text(text)
            print(text)
    return 0
