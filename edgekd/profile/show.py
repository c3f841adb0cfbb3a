"""Print one `edgekd profile` result in the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgekd.records import RuntimeSettings
from edgekd.report.columns import fmt_ms


def print_profile(res: dict, console: Console | None = None) -> None:
    console = console or Console()
    where = f"{res['target']} ({res['runtime']}, {res['precision']}, host {res['host']})"
    console.print(f"[bold]{escape(res['path'])}[/] on {where}: [bold]{res['latency_source']}[/]")
    if res["latency_source"] == "estimated":
        e = res["estimate"]
        console.print(
            f"~{fmt_ms(e['latency_ms'])} ms batch 1 (roofline estimate, {e['bound']}-bound; NOT "
            f"measured: {res['reason']}). Specs: {e.get('spec_source') or 'n/a'}."
        )
        return
    lat, env = res["latency"], res["environment"]
    first = (res.get("inputs") or [{}])[0].get("shape") or [1]
    stats = Table(title=f"batch-{first[0]} latency (ms, nearest rank)", title_justify="left")
    keys = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms")
    for k in keys:
        stats.add_column(k.removesuffix("_ms"), justify="right")
    stats.add_row(*(f"{lat[k]:.4g}" for k in keys))
    console.print(stats)
    thr = res["throughput"]
    static = (
        " (static: the model's own)" if thr.get("batch_source", "").startswith("static") else ""
    )
    console.print(f"inputs: {inputs_text(res.get('inputs') or [])}", highlight=False)
    console.print(
        f"{lat['queries']} queries in {lat['duration_s']:.2f} s ({res['settings']['tier']} tier); "
        f"load {res['load_ms']:.1f} ms; first inference {res['first_inference_ms']:.3f} ms; "
        f"throughput {thr['samples_per_s']:,.0f}/s at batch {thr['batch']}{static}; peak RSS "
        f"{res['memory']['peak_rss_bytes'] / 2**20:.0f} MiB; artifact "
        f"{res['artifact_bytes'] / 1024:.1f} KiB"
    )
    console.print(
        f"{env['cpu']} ({env['machine']}), affinity {env['affinity']}, placement "
        f"{env['placement']}; versions {res['versions']}"
    )
    console.print(rounds_text(res), highlight=False)
    print_layers(console, res.get("layers") or {})


def rounds_text(res: dict) -> str:
    """How the p50/p90 were got (medians over rounds, their spread) and the settings run."""
    r, parts = res.get("latency_rounds"), []
    if r:
        flag = " UNSTABLE: the rounds disagree, measure again on a quiet machine" * r["unstable"]
        parts.append(
            f"p50/p90 are medians of {r['count']} rounds; round p90s "
            f"{fmt_ms(r['p90_min_ms'])}-{fmt_ms(r['p90_max_ms'])} ms{flag}"
        )
    settings = res.get("runtime_settings")
    if settings:
        n = len((res.get("tuning") or {}).get("candidates") or [])
        how = f"tuned over {n} candidates" if n else "as given"
        parts.append(f"runtime settings ({how}): {RuntimeSettings(**settings).text()}")
    return "; ".join(parts)


def print_layers(console: Console, layers: dict) -> None:
    if layers.get("top"):
        t = Table(title=f"slowest ops ({layers['tool']})", title_justify="left")
        for c in ("op", "type", "mean us", "share"):
            t.add_column(c, justify="left" if c in ("op", "type") else "right")
        for op in layers["top"]:
            t.add_row(op["name"], op["op_type"], f"{op['mean_us']:.2f}", f"{op['share']:.1%}")
        console.print(t)


def inputs_text(inputs: list[dict]) -> str:
    """`input_ids [1, 128] int64 in [0, 100)`, one per input, as the worker fed them."""
    parts = []
    for i in inputs:
        drawn = f" in {i['range']}" if "range" in i else ""
        parts.append(f"{i['name']} {i['shape']} {i['dtype']}{drawn}")
    return "; ".join(parts) or "-"
