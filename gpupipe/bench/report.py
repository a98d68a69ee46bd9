"""Reports of a benchmark: ``results.json``, a markdown table and PNG charts.

Charts are drawn on :class:`matplotlib.figure.Figure` objects rendered by the Agg canvas, so no
GUI backend is needed and matplotlib's global ``pyplot`` state is never touched.

Examples
--------
>>> res = {"pipeline": "toy", "machine": {"cpu": "x", "cpu_threads": 2}, "settings": {"repeats": 1, "warmup": 0},
...        "runs": [{"backend": "pandas", "rows": 10, "status": "ok", "reason": "",
...                  "stats": {"total": {"median": 1.0, "min": 1.0, "max": 1.0}}, "metrics": {}}],
...        "speedups": []}
>>> "| pandas |" in to_markdown(res)
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .result import STAGES

__all__ = ["plain_log_axis", "plot_scaling", "plot_speedups", "plot_stages", "to_markdown", "write_report"]

_COLORS = {"cudf": "#76b900", "hybrid": "#1f77b4", "polars-gpu": "#17becf", "pandas": "#ff7f0e", "polars": "#9467bd",
           "naive": "#7f7f7f"}


def _stages(result: dict[str, Any]) -> list[str]:
    seen = [s for r in result["runs"] for s in r.get("stats", {}) if s != "total"]
    ordered = [s for s in STAGES if s in seen]
    return ordered + [s for s in dict.fromkeys(seen) if s not in ordered]


def _rows_label(rows: Any) -> str:
    return "full data" if rows is None else f"{int(rows):,} rows"


def _fmt(stat: dict[str, float] | None, spread: bool = False) -> str:
    if not stat:
        return "-"
    text = f"{stat['median']:.3g}"
    if spread and stat.get("n", 2) > 1:
        text += f" [{stat['min']:.3g}-{stat['max']:.3g}]"
    return text


def to_markdown(result: dict[str, Any]) -> str:
    """The results as markdown: a machine line, then one table per rows value (median seconds).

    Each backend gets a row, including those that could not run (with the reason).
    """
    m = result.get("machine", {})
    st = result.get("settings", {})
    gpus = m.get("devices", {}).get("torch_gpus") or m.get("devices", {}).get("nvml_gpus") or []
    lines = [f"## gpupipe bench: {result['pipeline']}", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpu_threads', '?')} threads; "
             f"GPU: {', '.join(gpus) if gpus else 'none'}"
             + (f" (driver {m['devices']['nvml_driver']})" if m.get("devices", {}).get("nvml_driver") else "")
             + f". Repeats {st.get('repeats', '?')} after {st.get('warmup', '?')} warm-up; "
             "median seconds, end-to-end total with [min-max].", ""]
    stages = _stages(result)
    speed = {(s["rows"], s["backend"], s["vs"]): s["total"] for s in result.get("speedups", [])}
    for key in dict.fromkeys(r["rows"] for r in result["runs"]):
        lines.append(f"### {_rows_label(key)}")
        lines.append("")
        head = ["backend", "status", *stages, "total", "AUC", "x vs pandas", "x vs naive"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        for r in (r for r in result["runs"] if r["rows"] == key):
            if r["status"] != "ok":
                cells = [r["backend"], f"{r['status']}: {r.get('reason', '')}".replace("|", "/"),
                         *("-" for _ in stages), "-", "-", "-", "-"]
            else:
                auc = r.get("metrics", {}).get("auc")
                sp = [speed.get((key, r["backend"], ref)) for ref in ("pandas", "naive")]
                cells = [r["backend"], "ok", *(_fmt(r["stats"].get(s)) for s in stages),
                         _fmt(r["stats"].get("total"), spread=True),
                         "-" if auc is None else f"{auc:.3f}",
                         *("-" if v is None else f"{v:.2f}x" for v in sp)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        checked = [r for r in result["runs"] if r["rows"] == key and (r.get("verified") or {}).get("summary")]
        for r in checked:
            lines.append(f"- {r['backend']}: {r['verified']['summary']}")
        if checked:
            lines.append("")
    return "\n".join(lines)


def _ok_runs(result: dict[str, Any], rows: Any) -> list[dict[str, Any]]:
    return [r for r in result["runs"] if r["rows"] == rows and r["status"] == "ok"]


def _plain(x: float) -> str:
    """A tick value as a plain number: ``40``, ``0.5``, ``2.5``, ``100,000`` (never ``4x10^1``)."""
    import numpy as np

    if x == 0 or not np.isfinite(x):
        return "0" if x == 0 else ""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return np.format_float_positional(x, precision=3, fractional=False, trim="-")


def _ratio(x: float) -> str:
    """A speedup to two significant digits, as a plain number: ``0.63``, ``3``, ``40``, ``120`` (never ``1.2e+02``)."""
    import numpy as np

    return np.format_float_positional(float(f"{x:.2g}"), trim="-")


def plain_log_axis(axis: Any) -> None:
    """Give a log-scale axis plain-number tick labels with sensible minor ticks.

    Major ticks stay at the powers of ten, labelled ``1``, ``10``, ``100,000`` (a
    :class:`~matplotlib.ticker.FuncFormatter`); minor ticks at 2..9 times them. Which minor ticks are
    labelled depends on the span the axis shows when drawn: 2, 3 and 5 times a power of ten within one
    decade, 2 and 5 within two, none beyond (the powers of ten are enough then).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator

    def minor(x: float, pos: int | None = None) -> str:
        import math

        lo, hi = sorted(axis.get_view_interval())
        decades = math.log10(hi / lo) if lo > 0 and hi > 0 else math.inf
        mantissa = round(x / 10 ** math.floor(math.log10(x) + 1e-9)) if x > 0 else 0
        shown = (2, 3, 5) if decades <= 1 else (2, 5) if decades <= 2 else ()
        return _plain(x) if mantissa in shown else ""

    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda x, pos=None: _plain(x)))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10))))
    axis.set_minor_formatter(FuncFormatter(minor))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def plot_stages(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Stacked horizontal bars of median stage seconds per backend, one panel per rows value."""
    import matplotlib as mpl

    stages = _stages(result)
    keys = [k for k in dict.fromkeys(r["rows"] for r in result["runs"]) if _ok_runs(result, k)] or [None]
    fig = _figure(9, 1.2 + 1.6 * len(keys))
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    cmap = mpl.colormaps["tab10"]
    for ax, key in zip(axes, keys, strict=True):
        runs = _ok_runs(result, key)
        names = [r["backend"] for r in runs]
        left = [0.0] * len(runs)
        for i, s in enumerate(stages):
            vals = [r["stats"].get(s, {}).get("median", 0.0) for r in runs]
            ax.barh(names, vals, left=left, color=cmap(i % 10), label=s if ax is axes[0] else None)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        for y, r in enumerate(runs):
            tot = r["stats"]["total"]
            ax.errorbar(tot["median"], y, xerr=[[tot["median"] - tot["min"]], [tot["max"] - tot["median"]]],
                        fmt="k|", markersize=14, capsize=3)
        ax.set_title(f"{result['pipeline']}: {_rows_label(key)} (bars: stages; tick: end-to-end median, min-max)",
                     fontsize=9)
        ax.set_xlabel("seconds (median)")
        ax.invert_yaxis()
    if stages:
        fig.legend(loc="outside lower center", ncols=min(len(stages), 8), fontsize=8)
    return _save(fig, path)


def plot_speedups(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Grouped bars of end-to-end speedup (median vs median) against pandas and against naive."""
    return _save(_speedups_figure(result), path)


def _speedups_figure(result: dict[str, Any]) -> Any:
    import numpy as np

    sp = result.get("speedups", [])
    keys = list(dict.fromkeys(s["rows"] for s in sp)) or [None]
    refs = [ref for ref in ("pandas", "naive") if any(s["vs"] == ref for s in sp)] or ["pandas"]
    fig = _figure(4 + 1.8 * len(keys), 3.8)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=True):
        backends = list(dict.fromkeys(s["backend"] for s in sp if s["rows"] == key))
        x = np.arange(len(backends))
        width = 0.8 / len(refs)
        for j, ref in enumerate(refs):
            # a reference that did not run at this size has no ratio: no bar (NaN), never a "0x" one
            vals = [next((s["total"] for s in sp if s["rows"] == key and s["backend"] == b and s["vs"] == ref),
                         float("nan")) for b in backends]
            bars = ax.bar(x + (j - (len(refs) - 1) / 2) * width, vals, width, label=f"vs {ref}")
            ax.bar_label(bars, labels=["" if v != v else f"{_ratio(v)}x" for v in vals], fontsize=7)
        ax.axhline(1.0, color="k", linewidth=0.8)
        shown = [s["total"] for s in sp if s["rows"] == key and s["total"] > 0]
        if shown and max(shown) / min(shown) > 20:  # GPU-vs-naive ratios span decades
            ax.set_yscale("log")
            plain_log_axis(ax.yaxis)
        ax.set_xticks(x, backends)
        ax.set_title(_rows_label(key), fontsize=9)
        ax.set_ylabel("end-to-end speedup (x)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{result['pipeline']}: speedup from medians of the same run", fontsize=10)
    return fig


def plot_scaling(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """End-to-end median seconds against rows on log-log axes, one line per backend (min-max bars)."""
    return _save(_scaling_figure(result), path)


def _scaling_figure(result: dict[str, Any]) -> Any:
    fig = _figure(6.5, 4.5)
    ax = fig.subplots()
    for b in dict.fromkeys(r["backend"] for r in result["runs"]):
        pts = sorted((r["n_rows"], r["stats"]["total"]) for r in result["runs"]
                     if r["backend"] == b and r["status"] == "ok" and r.get("n_rows"))
        if not pts:
            continue
        xs = [p[0] for p in pts]
        med = [p[1]["median"] for p in pts]
        err = [[p[1]["median"] - p[1]["min"] for p in pts], [p[1]["max"] - p[1]["median"] for p in pts]]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=b, color=_COLORS.get(b))
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_axis(ax.xaxis)
    plain_log_axis(ax.yaxis)
    ax.set_xlabel("rows")
    ax.set_ylabel("end-to-end seconds (median)")
    ax.set_title(f"{result['pipeline']}: scaling with rows", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png")
    return p


#: the files :func:`write_report` writes (one a previous report wrote and this one does not is removed)
REPORT_FILES = ("results.json", "results.md", "stages.png", "speedup.png", "scaling.png")


def write_report(result: dict[str, Any], out: str | os.PathLike[str], *, charts: bool = True) -> dict[str, str]:
    """Write ``results.json``, ``results.md`` and (with ``charts``) the PNG charts into ``out``.

    Returns a mapping of file kind to path; ``result["files"]`` is set to it before the JSON is written.
    ``scaling.png`` is drawn only when several rows values were measured. The files are written to a
    hidden directory inside ``out`` and put in place together once all are written
    (:func:`gpupipe._files.atomic_write_entries`): a failure or a killed process leaves the previous
    report whole, and a chart of a previous report that this one does not draw is removed. Other files
    in ``out`` are kept.
    """
    from .._files import atomic_write_entries

    d = Path(out)
    files: dict[str, str] = {"json": str(d / "results.json"), "markdown": str(d / "results.md")}

    def write(tmp: Path) -> None:
        if charts:
            plot_stages(result, tmp / "stages.png")
            files["stages_chart"] = str(d / "stages.png")
            if result.get("speedups"):
                plot_speedups(result, tmp / "speedup.png")
                files["speedup_chart"] = str(d / "speedup.png")
            if len({r["rows"] for r in result["runs"]}) > 1:
                plot_scaling(result, tmp / "scaling.png")
                files["scaling_chart"] = str(d / "scaling.png")
        result["files"] = files
        (tmp / "results.md").write_text(to_markdown(result) + "\n", encoding="utf-8")
        (tmp / "results.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")

    atomic_write_entries(d, write, replaces=REPORT_FILES)
    return files
