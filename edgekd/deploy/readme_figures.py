"""The measured figures of a bundle's README.md, and where they come from: a figure without
its machine, date and method is not one a device engineer can compare with their own."""

from __future__ import annotations

MIB = 1024 * 1024


def figures_table(ms: dict, artifact_bytes: int | None) -> str:
    rows = []
    acc = ms.get("accuracy") or {}
    if acc.get("top1") is not None:
        n = f" on {acc['samples']:,} test samples" if acc.get("samples") else " on the test split"
        rows.append(("accuracy (top-1, this artifact in its runtime)", f"{acc['top1']:.2%}{n}"))
    lat = ms.get("latency") or {}
    if "p50_ms" in lat:
        pcts = " / ".join(_ms(lat.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms"))
        queries = f" over {lat['queries']:,} queries" if lat.get("queries") else ""
        rows.append(("latency p50 / p90 / p99, batch 1", f"{pcts} ms{queries}"))
    tp = ms.get("throughput") or {}
    if tp.get("samples_per_s"):
        rows.append(("throughput", f"{tp['samples_per_s']:,.0f} samples/s at batch {tp['batch']}"))
    if ms.get("load_ms") is not None:
        first = _ms(ms.get("first_inference_ms"))
        rows.append(("load / first inference", f"{_ms(ms['load_ms'])} ms / {first} ms"))
    peak = (ms.get("memory") or {}).get("peak_rss_bytes")
    if peak:
        rows.append(("peak RSS of the measuring process", f"{peak / MIB:.0f} MB"))
    size = artifact_bytes or ms.get("artifact_bytes")
    if size:
        rows.append(("artifact size", f"{size / 1024:.1f} KB"))
    return "| figure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def provenance(ms: dict) -> str:
    host = ms.get("host") or {}
    cpu = ", ".join(
        str(x)
        for x in (
            host.get("cpu"),
            host.get("machine"),
            f"{host['logical_cpus']} logical CPUs" if host.get("logical_cpus") else None,
        )
        if x
    )
    versions = ", ".join(f"{k} {v}" for k, v in (ms.get("versions") or {}).items())
    libs = ", ".join(
        x
        for x in (
            f"Python {host['python']}" if host.get("python") else "",
            f"numpy {host['numpy']}" if host.get("numpy") else "",
            versions,
        )
        if x
    )
    settings = ms.get("settings") or {}
    method = (
        f"tier {settings.get('tier', '?')}: {settings.get('warmup', '?')} warm-up queries, then "
        f"at least {settings.get('min_queries', '?')} queries (nearest-rank percentiles)"
    )
    where = ms.get("where", "local")
    place = "the machine that built this bundle" if where == "local" else f"`{where}`"
    honest = (
        " Where the device is another machine, measure there: `edgekd profile <this folder> "
        "--host ssh://user@device`."
        if where == "local"
        else ""
    )
    return (
        f"How: {ms.get('source', 'measured')} on {place} (host `{host.get('hostname', '?')}`: "
        f"{cpu or 'CPU unknown'}; {host.get('platform', '')}), {libs}; on "
        f"{ms.get('measured_at', '?')}; {method}; profile stage `{ms.get('profile_stage')}`."
        f"{honest} measurements.json holds these figures as numbers."
    )


def _ms(v) -> str:
    """Milliseconds as the report prints them (never 1e-05)."""
    from edgekd.report.columns import fmt_ms

    return "-" if v is None else fmt_ms(float(v))
