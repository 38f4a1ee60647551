"""The results: one JSON document and its markdown rendering, with where and when they ran."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Figure = float | int | str | None

# Column headings for the figures a row may carry, in the order they are shown.
LABELS: dict[str, str] = {
    "listing_s": "listing (s)",
    "listing_range": "range (s)",
    "process_wall_s": "process wall (s)",
    "wall_s": "wall (s)",
    "startup_s": "start-up (s)",
    "work_s": "wall - start-up (s)",
    "count": "count",
    "requests": "requests",
    "server_cpu_s": "emulator CPU (s)",
    "retries": "retries",
    "per_call_ms": "per call (ms)",
    "notice_delay_s": "notice delay (s)",
    "notice_p90_s": "notice delay p90 (s)",
    "wait_requests": "wait requests",
    "events": "events received",
    "poll_interval_s": "poll interval (s)",
    "throughput_rps": "throughput (req/s)",
    "p50_ms": "p50 (ms)",
    "p99_ms": "p99 (ms)",
    "peak_rss_mb": "peak RSS (MiB)",
    "startup_rss_mb": "start-up RSS (MiB)",
    "failed_waits": "waits failed",
    "emulated_min": "wall (emulated min)",
    "per_min_mean": "requests/min (emulated)",
    "per_min_peak": "busiest minute (requests)",
    "notice_p50_s": "notice delay p50 (emulated s)",
    "median_s": "median (s)",
    "min_s": "fastest (s)",
}


@dataclass
class Measurement:
    """One contender's figures on one row.

    Attributes:
        contender: Who ran (dbt-runs, a peer, a bare httpx baseline).
        figures: Named figures (keys from `LABELS`).
        ratio: This contender's figure divided by the row's reference figure.
        ok: False when the contender failed to do the work (then `note` says why).
        note: What to know when reading the figures.
    """

    contender: str
    figures: dict[str, Figure] = field(default_factory=dict)
    ratio: float | None = None
    ok: bool = True
    note: str = ""

    def num(self, key: str) -> float:
        """A numeric figure (raises `KeyError`/`TypeError` if it is missing or not a number)."""
        value = self.figures[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.contender}: figure {key!r} is not a number: {value!r}")
        return float(value)


@dataclass
class Row:
    """One benchmark row: what ran, the target, and whether dbt-runs met it.

    Attributes:
        number: The row's number (1-6 from the first issue, 7-8 the sync client's, 9-10 the
            hot paths' floors).
        key: Its `--only` name.
        title: What it measures.
        ratio_of: What the ratio column divides by what.
        target: The target, word for word from the issue, or None where the issue sets none.
        met: Whether the target is met (None: no target, or it could not be judged).
        verdict: The measured figure the target is judged on.
        measurements: One per contender.
        notes: What limits a missed target, fairness notes, skipped contenders.
        profile: Where the pyinstrument profile of a missed target was saved.
    """

    number: int
    key: str
    title: str
    ratio_of: str
    target: str | None
    met: bool | None = None
    verdict: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str | None = None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(*, smoke: bool, peer_versions: dict[str, str]) -> dict[str, Any]:
    """Where and when the run happened: the context every ratio needs."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "smoke": smoke,
        # Other work on the machine moves every absolute figure: the 1-minute load average
        # when the run started (and, once written, when it ended).
        "load": [round(os.getloadavg()[0], 2)] if hasattr(os, "getloadavg") else [],
        "versions": {
            "dbt-runs": _version("dbt-runs"),
            "httpx": _version("httpx"),
            "uvicorn": _version("uvicorn"),
            **peer_versions,
        },
        "argv": sys.argv[1:],
    }


def _fmt(value: Figure) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if value < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (one line, no column breaks)."""
    return " ".join(text.split()).replace("|", "\\|")


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[met]


def _where(env: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    load = env.get("load") or []
    busy = (
        f"Load average {' at the start, '.join(f'{x:.1f}' for x in load)}"
        f"{' at the end' if len(load) > 1 else ' at the start'}. "
        if load
        else ""
    )
    return (
        f"Python {env['python']} ({env['implementation']}), "
        f"{env['cpu_count']} CPUs ({env['usable_cpus']} usable), {env['platform']}. {busy}"
        f"{'**Smoke sizes (not representative).** ' if env['smoke'] else ''}"
        f"Versions: {versions}."
    )


def render_markdown(env: dict[str, Any], rows: list[Row]) -> str:
    """The results as markdown: a summary of targets, then one table per row."""
    later = env.get("merged", [])
    merged_rows = {number for run in later for number in run["rows"]}
    main = [row.number for row in rows if row.number not in merged_rows]
    which = f"Rows {', '.join(map(str, main))} run" if later else "Run"
    out = [f"{which} on {env['date']}: {_where(env)}"]
    for run in later:
        numbers = ", ".join(map(str, run["rows"]))
        out.append(
            f"Row{'s' if len(run['rows']) > 1 else ''} {numbers} run later, on {run['date']}, "
            f"and merged in (`python -m benchmarks {' '.join(run['argv'])}`): {_where(run)}"
        )
    out = [
        "\n\n".join(out),
        "",
        "| # | Row | Target | Measured | Met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        out.append(
            f"| {row.number} | {row.title} | {row.target or 'none set'} "
            f"| {_cell(row.verdict) or '-'} "
            f"| {_met(row.met)} |"
        )
    for row in rows:
        out += ["", f"**{row.number}. {row.title}** (ratio: {row.ratio_of})", ""]
        keys = [k for k in LABELS if any(k in m.figures for m in row.measurements)]
        out.append("| Contender | " + " | ".join(LABELS[k] for k in keys) + " | ratio | note |")
        out.append("|---|" + "---|" * (len(keys) + 2))
        for m in row.measurements:
            cells = [_fmt(m.figures.get(k)) for k in keys]
            ratio = f"{m.ratio:.2f}x" if m.ratio is not None else "-"
            note = _cell(m.note if m.ok else f"failed: {m.note}")
            out.append(f"| {m.contender} | " + " | ".join(cells) + f" | {ratio} | {note} |")
        if row.notes or row.profile:
            out.append("")
            out += [f"- {n}" for n in row.notes]
            if row.profile:
                out.append(f"- Profile: `{row.profile}`")
    return "\n".join(out) + "\n"


def _ended(env: dict[str, Any]) -> dict[str, Any]:
    """`env` with the load average at the end of the run added, once."""
    if len(env.get("load") or []) == 1 and hasattr(os, "getloadavg"):
        return {**env, "load": [*env["load"], round(os.getloadavg()[0], 2)]}
    return env


def merge(out_dir: Path, env: dict[str, Any], rows: list[Row]) -> tuple[Path, Path]:
    """Merge `rows` into `out_dir`'s latest results: rows of the same number are replaced,
    the others keep their figures and the date of the run that measured them (the file says
    which rows came from which run)."""
    path = out_dir / "latest.json"
    if not path.exists():
        return write(out_dir, env, rows)
    previous = json.loads(path.read_text())
    numbers = {row.number for row in rows}
    kept = [
        Row(**{**raw, "measurements": [Measurement(**m) for m in raw["measurements"]]})
        for raw in previous["rows"]
        if raw["number"] not in numbers
    ]
    base = previous["environment"]
    later = []
    for run in base.get("merged", []):
        still = [n for n in run["rows"] if n not in numbers]
        if still:
            later.append({**run, "rows": still})
    later.append({**_ended(env), "rows": sorted(numbers)})
    merged_env = {**base, "merged": later}
    return write(out_dir, merged_env, sorted([*kept, *rows], key=lambda row: row.number))


def write(out_dir: Path, env: dict[str, Any], rows: list[Row]) -> tuple[Path, Path]:
    """Write `latest.json` and `latest.md` into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _ended(env)
    json_path, md_path = out_dir / "latest.json", out_dir / "latest.md"
    json_path.write_text(
        json.dumps({"environment": env, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
    )
    md_path.write_text(render_markdown(env, rows))
    return json_path, md_path
