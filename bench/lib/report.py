#!/usr/bin/env python3
"""bench/run's report: medians over the runs, ratios kiagateway/peer, the targets, docs/PERFORMANCE.md
and the plot (gnuplot).

  report.py line RECORD-JSON                                   one line about one measurement
  report.py build --raw RAW.jsonl --meta META.json --json OUT.json [--md FILE --png FILE]
  report.py rebuild --json OUT.json [--md FILE --png FILE]     the docs again from saved results
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

PEERS = ["kiagateway", "haproxy", "nginx", "sniproxy", "direct"]
OTHERS = ["haproxy", "nginx", "sniproxy", "direct"]
# title, rate unit, unit of work, is the HTTP listener used (nginx is an L7 proxy there)
SCENARIOS = {
    "S1": ("HTTP keep-alive, small requests", "req/s", "request", True),
    "S2": ("HTTP, a new connection per request", "conn/s", "connection", True),
    "S3": ("TLS, a new connection per request, routed by SNI", "conn/s", "connection", False),
    "S4-tls": ("64 MiB over TLS, routed by SNI", "MB/s", "MB", False),
    "S4-plain": ("1 GiB over plain HTTP, routed by Host", "MB/s", "MB", True),
    "S5": ("5 000 idle TLS connections", "handshakes/s", "connection", False),
}


def l4_peers(scenario):
    """The peers doing the same job as kiagateway: nginx's HTTP listener is an L7 proxy, not L4."""
    return ["haproxy", "sniproxy"] if SCENARIOS[scenario][3] else ["haproxy", "nginx", "sniproxy"]


def derived(r):
    """The figures of one record."""
    out = {}
    sc = r.get("scenario")
    if sc == "S6":
        for k in ("load_s", "startup_1_s", "startup_n_s", "pss_kib", "bench_load_s", "lookups_per_s"):
            if r.get(k) is not None:
                out[k] = r[k]
        return out
    if r.get("rate") is not None:
        out["rate"] = r["rate"]
    for k in ("p50_ms", "p99_ms", "rss_kib_per_conn", "pss_kib_per_conn"):
        if r.get(k) is not None:
            out[k] = r[k]
    units = r.get("units") or 0
    if units > 0:
        for src, dst in (("gateway_cpu_s", "cpu_us"), ("client_cpu_s", "client_cpu_us"),
                         ("backend_cpu_s", "backend_cpu_us")):
            if r.get(src) is not None:
                out[dst] = r[src] / units * 1e6
    return out


def medians(records):
    groups = {}
    for r in records:
        groups.setdefault((r["scenario"], r["peer"]), []).append(r)
    result = {}
    for (sc, peer), rs in groups.items():
        good = [r for r in rs if r.get("ok")]
        # Runs during which other processes took the CPU count only when there is no clean run.
        used = [r for r in good if not r.get("disturbed")] or good
        figures = [derived(r) for r in used]
        m = {"runs": len(used), "failed": len(rs) - len(good), "disturbed": sum(1 for r in used if r.get("disturbed")),
             "dropped_disturbed": len(good) - len(used)}
        keys = sorted({k for f in figures for k in f})
        for k in keys:
            values = [f[k] for f in figures if k in f]
            m[k] = statistics.median(values)
            if len(values) > 1:
                m[k + "_range"] = [min(values), max(values)]
        errors = [r.get("error") for r in rs if not r.get("ok")]
        if errors:
            m["errors"] = errors
        result.setdefault(sc, {})[peer] = m
    return result


def get(med, sc, peer, key):
    return med.get(sc, {}).get(peer, {}).get(key)


def targets(med):
    rows = []

    def best(sc, key, higher):
        vals = [(get(med, sc, p, key), p) for p in l4_peers(sc) if get(med, sc, p, key) is not None]
        if not vals:
            return None, None
        v, p = max(vals) if higher else min(vals)
        return p, v

    def row(label, sc, key, ref_peer, ref_value, op, goal, unit):
        kg = get(med, sc, "kiagateway", key)
        ratio = kg / ref_value if kg is not None and ref_value else None
        met = None if ratio is None else (ratio >= goal if op == ">=" else ratio <= goal)
        disturbed = any(get(med, sc, p, "disturbed") for p in ("kiagateway", ref_peer) if p)
        rows.append({"target": label, "scenario": sc, "metric": key, "unit": unit, "kiagateway": kg,
                     "reference": ref_peer, "reference_value": ref_value, "ratio": ratio,
                     "goal": f"{op} {goal:.2f}", "met": met, "disturbed": bool(disturbed)})

    for sc, unit in (("S1", "req/s"), ("S2", "conn/s"), ("S4-tls", "MB/s"), ("S4-plain", "MB/s")):
        p, v = best(sc, "rate", True)
        row(f"{sc} throughput ≥ 1.0× the best L4 peer", sc, "rate", p, v, ">=", 1.0, unit)
    for sc in ("S4-tls", "S4-plain"):
        row(f"{sc} throughput ≥ 0.85× direct", sc, "rate", "direct", get(med, sc, "direct", "rate"), ">=", 0.85,
            "MB/s")
    for sc, unit in (("S1", "µs/request"), ("S2", "µs/connection"), ("S3", "µs/connection"),
                     ("S4-tls", "µs/MB"), ("S4-plain", "µs/MB")):
        row(f"{sc} gateway CPU per {SCENARIOS[sc][2]} ≤ 0.7× HAProxy", sc, "cpu_us", "haproxy",
            get(med, sc, "haproxy", "cpu_us"), "<=", 0.7, unit)
    row("S5 RSS per idle TLS connection ≤ 0.5× HAProxy", "S5", "rss_kib_per_conn", "haproxy",
        get(med, "S5", "haproxy", "rss_kib_per_conn"), "<=", 0.5, "KiB")
    for sc in ("S1", "S2"):
        p, v = best(sc, "p99_ms", False)
        row(f"{sc} p99 latency no worse than the best L4 peer", sc, "p99_ms", p, v, "<=", 1.0, "ms")
    return rows


# ------------------------------------------------------------------------------------------ formatting
def fmt(v, unit=""):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 100000:
        s = f"{v:,.0f}".replace(",", " ")
    elif a >= 100:
        s = f"{v:.0f}"
    elif a >= 10:
        s = f"{v:.1f}"
    elif a >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3f}"
    return f"{s} {unit}".strip()


def fmt_ratio(v):
    return "n/a" if v is None else f"{v:.2f}×"


def line(record):
    r = record
    d = derived(r)
    sc, peer = r.get("scenario"), r.get("peer")
    head = f"{sc} {peer} run {r.get('run')}"
    if sc == "S6":
        if not r.get("ok"):
            return f"{head}: FAILED {r.get('error')}"
        s = f"{head}: {r['routes']} routes load in {fmt(r.get('load_s'), 's')} (start {fmt(r.get('startup_n_s'), 's')}" \
            f" vs {fmt(r.get('startup_1_s'), 's')} with 1 route), PSS {fmt(r.get('pss_kib', 0) / 1024, 'MiB')}"
        if "lookups_per_s" in r:
            s += f"; config_bench: load {fmt(r.get('bench_load_s'), 's')}, {fmt(r['lookups_per_s'] / 1e6)} M lookups/s"
        return s
    unit = SCENARIOS.get(sc, ("", "", "unit"))[1]
    work = SCENARIOS.get(sc, ("", "", "unit"))[2]
    parts = [f"{fmt(d.get('rate'), unit)}"]
    if "p99_ms" in d:
        parts.append(f"p99 {fmt(d['p99_ms'], 'ms')}")
    if "rss_kib_per_conn" in d:
        parts.append(f"RSS {fmt(d['rss_kib_per_conn'], 'KiB')}/conn")
    if "cpu_us" in d:
        parts.append(f"gateway CPU {fmt(d['cpu_us'], 'µs')}/{work}")
    s = f"{head}: " + ", ".join(parts)
    s += f" [other processes {r.get('foreign_share', 0) * 100:.0f}% of the CPUs"
    s += ", DISTURBED]" if r.get("disturbed") else "]"
    if not r.get("ok"):
        s += f" FAILED: {r.get('error')}"
    return s


# ------------------------------------------------------------------------------------------ markdown
def markdown(data, png_name):
    meta, med, rows = data["meta"], data["medians"], data["targets"]
    quick = meta.get("mode") == "quick"
    out = []
    w = out.append
    w("# Performance")
    w("")
    w("<!-- Generated by bench/run from bench/results/latest.json; edit bench/lib/report.py, not this file. -->")
    w("")
    if quick:
        w("> **Quick run (`bench/run --quick`): one run of each measurement, short durations, a disturbed run "
          "redone at most once. The figures are noisy; they show that the suite works, not how kiagateway compares. "
          "Run `bench/run` for the reference figures.**")
        w("")
    w(f"kiagateway against HAProxy, nginx and sniproxy doing the same job, and a direct connection to the "
      f"backend, measured in the same session by [`bench/run`](../bench/README.md) on {meta.get('date')}. "
      f"Each figure is the median of {meta.get('runs')} run(s). How each scenario is measured, and what is and "
      f"is not comparable, is in [bench/README.md](../bench/README.md).")
    w("")
    w(f"- Machine: {meta.get('host')}. The gateway (or peer) runs alone on core {meta.get('gateway_cpu')}; "
      f"the load generator and the backend share core(s) {meta.get('load_cpus')}.")
    def first_kg(d):
        return sorted(d.items(), key=lambda kv: (kv[0] != "kiagateway", kv[0].lower()))
    w("- Versions: " + "; ".join(f"{k}: `{v}`" for k, v in first_kg(meta.get("versions", {}))) + ".")
    w("- Settings: " + "; ".join(f"{k}: {v}" for k, v in first_kg(meta.get("settings", {}))) + ".")
    w(f"- Load: wrk, 1 thread, {meta.get('wrk_connections')} connections, {meta.get('wrk_duration_s')} s per "
      f"measurement after a {meta.get('wrk_warmup_s')} s warm-up (S1–S3); curl (S4: "
      f"{meta.get('tls_files')} × 64 MiB over TLS, 1 × 1 GiB plain); a Python client, 8 threads "
      f"(S5: {meta.get('s5_count')} TLS connections); S6: {meta.get('routes')} routes.")
    disturbed = sum(m.get("disturbed", 0) for sc in med.values() for m in sc.values())
    failed = sum(m.get("failed", 0) for sc in med.values() for m in sc.values())
    w(f"- Measurements in the figures during which other processes used more than 5 % of the machine's CPU "
      f"(each was redone up to {meta.get('retries')} time(s) first): **{disturbed}**; failed measurements: "
      f"**{failed}**.")
    w("")
    w(f"![kiagateway and its peers]({png_name})")
    w("")
    w("## Targets")
    w("")
    w("Ratio = kiagateway ÷ reference. CPU is the gateway process's own (utime + stime, all threads), "
      "divided by the work done. \"Best L4 peer\": HAProxy and sniproxy for the HTTP listener (nginx can "
      "only route HTTP by Host as an L7 proxy), HAProxy, nginx and sniproxy for TLS.")
    w("")
    w("| Target | kiagateway | Reference | Ratio | Goal | Met |")
    w("|---|---|---|---|---|---|")
    for t in rows:
        ref = "n/a" if t["reference"] is None else f"{t['reference']}: {fmt(t['reference_value'], t['unit'])}"
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        if t.get("disturbed"):
            met += " †"
        goal = t["goal"].replace(">=", "≥").replace("<=", "≤") + "×"
        ratio = fmt_ratio(t["ratio"])
        if t["ratio"] is not None and ratio == f"{float(t['goal'].split()[1]):.2f}×":
            ratio = f"{t['ratio']:.4f}×"  # rounds to the goal: show which side of it
        w(f"| {t['target']} | {fmt(t['kiagateway'], t['unit'])} | {ref} | {ratio} | "
          f"{goal} | {met} |")
    if any(t.get("disturbed") for t in rows):
        w("")
        w("† from measurements during which other processes took the CPU (no clean run was left): "
          "treat as indicative only.")
    w("")
    w("## Ratios kiagateway ÷ peer")
    w("")
    w("Every figure of kiagateway divided by the same figure of each peer. Throughput: above 1 is better for "
      "kiagateway; latency, CPU and memory: below 1 is better.")
    w("")
    w("| Scenario | Figure | Better | " + " | ".join(OTHERS) + " |")
    w("|---|---|---|" + "---|" * len(OTHERS))
    figures = [("rate", None, "higher"), ("p99_ms", "p99 latency", "lower"), ("cpu_us", "gateway CPU per {work}", "lower")]
    for sc, (title, unit, work, _) in SCENARIOS.items():
        for key, label, better in figures + ([("rss_kib_per_conn", "RSS per connection", "lower")] if sc == "S5" else []):
            if get(med, sc, "kiagateway", key) is None:
                continue
            label = (unit if key == "rate" else label).format(work=work)
            cells = []
            for p in OTHERS:
                kv, pv = get(med, sc, "kiagateway", key), get(med, sc, p, key)
                cell = fmt_ratio(kv / pv) if kv is not None and pv else "n/a"
                if p == "nginx" and SCENARIOS[sc][3] and cell != "n/a":
                    cell += " (L7)"
                cells.append(cell)
            w(f"| {sc} | {label} | {better} | " + " | ".join(cells) + " |")
    s6 = med.get("S6", {})
    if get(med, "S6", "kiagateway", "load_s") is not None:
        cells = []
        for p in OTHERS:
            kv, pv = get(med, "S6", "kiagateway", "load_s"), get(med, "S6", p, "load_s")
            cells.append(fmt_ratio(kv / pv) if kv is not None and pv and pv > 0 else "n/a")
        w("| S6 | time to load the routes | lower | " + " | ".join(cells) + " |")
    w("")
    w("## Figures")
    w("")
    for sc, (title, unit, work, http) in SCENARIOS.items():
        if sc not in med:
            continue
        w(f"### {sc}: {title}")
        w("")
        cols = ["Peer", unit]
        if sc in ("S1", "S2", "S3"):
            cols += ["p50", "p99"]
        if sc == "S5":
            cols += ["RSS per connection", "PSS per connection"]
        cols += [f"gateway CPU per {work}", f"client CPU per {work}", f"backend CPU per {work}", "runs"]
        w("| " + " | ".join(cols) + " |")
        w("|" + "---|" * len(cols))
        for p in PEERS:
            m = med[sc].get(p)
            if m is None:
                continue
            name = f"{p} (L7 http proxy)" if p == "nginx" and http else p
            cells = [name, fmt(m.get("rate"))]
            if sc in ("S1", "S2", "S3"):
                cells += [fmt(m.get("p50_ms"), "ms"), fmt(m.get("p99_ms"), "ms")]
            if sc == "S5":
                cells += [fmt(m.get("rss_kib_per_conn"), "KiB"), fmt(m.get("pss_kib_per_conn"), "KiB")]
            cells += [fmt(m.get("cpu_us"), "µs"), fmt(m.get("client_cpu_us"), "µs"), fmt(m.get("backend_cpu_us"), "µs")]
            runs = str(m["runs"])
            if m.get("disturbed"):
                runs += f" ({m['disturbed']} disturbed)"
            if m.get("dropped_disturbed"):
                runs += f" (+{m['dropped_disturbed']} disturbed, not used)"
            if m.get("failed"):
                runs += f", {m['failed']} failed: {'; '.join(str(e) for e in m.get('errors', []))}"
            cells.append(runs)
            w("| " + " | ".join(cells) + " |")
        w("")
    if s6:
        w(f"### S6: a {meta.get('routes')}-route config")
        w("")
        w("Time from exec to the TLS listener accepting, with 1 route and with all of them (the difference is "
          "the time to load the routes), and the memory of the process(es) with all the routes loaded (PSS, so that "
          "pages nginx's master and worker share count once). Each peer uses its "
          "own kind of table: kiagateway `[https_backends]`, an HAProxy map file, an nginx stream `map`, a "
          "sniproxy table (regular expressions, tried in order).")
        w("")
        w("| Peer | start, 1 route | start, all routes | load time | memory (PSS) with the routes | runs |")
        w("|---|---|---|---|---|---|")
        for p in PEERS:
            m = s6.get(p)
            if m is None:
                continue
            runs = str(m["runs"]) + (f", {m['failed']} failed: {'; '.join(map(str, m.get('errors', [])))}"
                                     if m.get("failed") else "")
            w(f"| {p} | {fmt(m.get('startup_1_s'), 's')} | {fmt(m.get('startup_n_s'), 's')} | "
              f"{fmt(m.get('load_s'), 's')} | {fmt(m['pss_kib'] / 1024 if m.get('pss_kib') else None, 'MiB')} | {runs} |")
        k = s6.get("kiagateway", {})
        if k.get("lookups_per_s"):
            w("")
            w(f"`kiagateway_config_bench {meta.get('routes')}` (in-process, its own mix of exact names, wildcards "
              f"and failover lists): load + validate **{fmt(k.get('bench_load_s'), 's')}**, "
              f"**{fmt(k['lookups_per_s'] / 1e6)} million** route lookups/s. The peers have no equivalent "
              "lookup benchmark.")
        w("")
    w("## Reproducing")
    w("")
    w("```sh")
    w("bench/run            # the full suite: about 16 minutes on a quiet 2-core machine")
    w("bench/run --quick    # one short run of everything: a smoke test")
    w("```")
    w("")
    w("Raw records (one per measurement, with the CPU of the gateway, the backend, the client, the "
      "ksoftirqd threads and of other processes) are in `bench/results/latest.json`.")
    w("")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ plot
def plot(data, png):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not found, no plot", file=sys.stderr)
        return False
    med = data["medians"]
    tmp = tempfile.mkdtemp(prefix="kg-plot-")
    names = {"S1": "S1", "S2": "S2", "S3": "S3", "S4-tls": "S4-TLS", "S4-plain": "S4-plain", "S5": "S5"}

    def table(path, scs, peers, value):
        with open(path, "w") as f:
            f.write("x " + " ".join(peers) + "\n")
            for sc in scs:
                cells = []
                for p in peers:
                    v = value(sc, p)
                    cells.append("NaN" if v is None else f"{v:.6g}")
                f.write(f"{names[sc]} " + " ".join(cells) + "\n")

    gw = ["kiagateway", "haproxy", "nginx", "sniproxy"]

    def rel(key, ref):
        def value(sc, p):
            v, r = get(med, sc, p, key), get(med, sc, ref, key)
            return v / r if v is not None and r else None
        return value

    table(f"{tmp}/throughput.dat", ["S1", "S2", "S3", "S4-tls", "S4-plain"], gw, rel("rate", "direct"))
    table(f"{tmp}/cpu.dat", ["S1", "S2", "S3", "S4-tls", "S4-plain", "S5"], gw, rel("cpu_us", "haproxy"))
    table(f"{tmp}/p99.dat", ["S1", "S2", "S3"], gw + ["direct"], lambda sc, p: get(med, sc, p, "p99_ms"))
    table(f"{tmp}/rss.dat", ["S5"], gw, lambda sc, p: get(med, sc, p, "rss_kib_per_conn"))
    meta = data["meta"]
    conns = meta.get("wrk_connections")
    title = "kiagateway vs peers" + (" (QUICK run: noisy)" if meta.get("mode") == "quick" else "") + \
        f", medians of {meta.get('runs')} run(s), {meta.get('date')}; gateway alone on one core"
    script = f"""
set terminal pngcairo size 1400,1000 font "DejaVu Sans,10"
set output "{png}"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left horizontal samplen 2
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set linetype 1 lc rgb "#d62728"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#2ca02c"
set linetype 4 lc rgb "#9467bd"
set linetype 5 lc rgb "#7f7f7f"
set multiplot layout 2,2 title "{title}"
set title "Throughput relative to direct (higher is better)"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "black"
plot for [i=2:5] "{tmp}/throughput.dat" using i:xtic(1) title columnheader(i)
set title "Gateway CPU per unit of work relative to HAProxy (lower is better)"
plot for [i=2:5] "{tmp}/cpu.dat" using i:xtic(1) title columnheader(i)
unset arrow 1
set title "p99 latency, ms (lower is better; wrk, {conns} connections)"
plot for [i=2:6] "{tmp}/p99.dat" using i:xtic(1) title columnheader(i)
set title "RSS per idle TLS connection, KiB (lower is better)"
plot for [i=2:5] "{tmp}/rss.dat" using i:xtic(1) title columnheader(i)
unset multiplot
"""
    with open(f"{tmp}/plot.gp", "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", f"{tmp}/plot.gp"], capture_output=True, text=True, timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)
    if r.returncode != 0:
        print(f"report: gnuplot failed: {r.stderr.strip()}", file=sys.stderr)
        return False
    return True


def write_docs(data, md, png):
    if png:
        plot(data, png)
    if md:
        rel = os.path.relpath(png, os.path.dirname(md)) if png else "performance.png"
        with open(md, "w") as f:
            f.write(markdown(data, rel))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "line":
        print(line(json.loads(sys.argv[2])))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["build", "rebuild"])
    p.add_argument("--raw")
    p.add_argument("--meta")
    p.add_argument("--json", required=True)
    p.add_argument("--md")
    p.add_argument("--png")
    a = p.parse_args()
    if a.command == "build":
        with open(a.raw) as f:
            records = [json.loads(line) for line in f if line.strip()]
        with open(a.meta) as f:
            meta = json.load(f)
        med = medians(records)
        data = {"meta": meta, "medians": med, "targets": targets(med), "records": records}
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True, ensure_ascii=False)
    else:
        with open(a.json) as f:
            data = json.load(f)
        data["medians"] = medians(data["records"])
        data["targets"] = targets(data["medians"])
    write_docs(data, a.md, a.png)
    for t in data["targets"]:
        met = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        print(f"  {t['target']}: {fmt_ratio(t['ratio'])} ({met})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
