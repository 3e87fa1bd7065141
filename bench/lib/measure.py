#!/usr/bin/env python3
"""Runs one load command and accounts for what it cost. Prints one JSON record on stdout.

  measure.py --kind wrk|curl|json [--gateway-pids P,..] [--backend-pids P,..] [--label k=v ...] -- CMD...

Before: waits (at most --quiet-wait s) until the machine is quiet. Around CMD: CPU time of the gateway's
process tree and of the backend's (utime+stime from /proc/PID/stat, every thread and child process; to
the nanosecond from the threads' schedstat, cross-checked with utime+stime), of
CMD itself (rusage of the children), of the ksoftirqd threads, and of the whole machine (/proc/stat).
The CPU every other process and kernel thread used meanwhile (their own and their reaped children's,
from /proc/*/stat) is "foreign": other processes took the CPU. A run whose foreign share is over
--max-foreign, or with hypervisor steal over --max-steal, is marked disturbed. (The machine's busy time
from /proc/stat minus all of the above is recorded too, as "unaccounted": it is tick-sampled, so it
is only a cross-check.)

Exit status: 0 a clean measurement, 3 disturbed (the caller redoes it), 1 the tool failed.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def pid_list(text):
    return [int(p) for p in text.replace(",", " ").split()] if text else []


def busy_share(seconds):
    a = procstat.machine()
    time.sleep(seconds)
    d = procstat.machine_delta(a, procstat.machine())
    return (d["busy"] + d["steal"]) / d["total"] if d["total"] > 0 else 0.0


def wait_quiet(limit, threshold):
    """Share of the machine busy just before the run (our own processes are idle then)."""
    deadline = time.monotonic() + limit
    share = busy_share(0.5)
    while share > threshold and time.monotonic() < deadline:
        time.sleep(1.0)
        share = busy_share(0.5)
    return share


def parse_wrk(out):
    r = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if m:
        r["requests"] = int(m.group(1))
        r["duration_s"] = float(m.group(2)) * UNIT[m.group(3)] / 1e3
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if m:
        r["rate"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s*%s(?:\.0+)?%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, out, re.M)
        if m:
            r[key] = float(m.group(1)) * UNIT[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["bad_status"] = int(m.group(1)) if m else 0
    error = None
    if not r.get("requests"):
        error = "wrk completed no request"
    elif r["bad_status"] > 0.01 * r["requests"]:
        error = f"{r['bad_status']} responses were not 2xx/3xx"
    elif r["socket_errors"] > 0.01 * r["requests"]:
        error = f"{r['socket_errors']} socket errors"
    r["units"] = r.get("requests", 0)
    return r, error


def parse_curl(out, expect_bytes):
    """curl -w '%{http_code} %{size_download} %{time_total}\\n', one line per transfer."""
    transfers = [line.split() for line in out.splitlines() if line.strip()]
    r = {"transfers": len(transfers), "bytes": 0, "transfer_s": 0.0}
    error = None
    for code, size, seconds in transfers:
        if code != "200" or (expect_bytes and int(size) != expect_bytes):
            error = f"transfer answered {code} with {size} bytes (expected 200, {expect_bytes})"
        r["bytes"] += int(size)
        r["transfer_s"] += float(seconds)
    if not transfers:
        error = "curl made no transfer"
    r["mb"] = r["bytes"] / 1e6
    r["rate"] = r["mb"] / r["transfer_s"] if r["transfer_s"] > 0 else 0.0
    r["units"] = r["mb"]
    return r, error


def parse_json(out):
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        return {"units": 0}, "no JSON result"
    r = json.loads(lines[-1])
    return r, r.pop("error", None)


def precise(ticks_delta, before, after):
    """The schedstat (nanosecond) difference, unless a thread exited meanwhile and took its time along
    (then it falls short of the utime+stime difference by more than the ticks' rounding)."""
    if before is None or after is None:
        return ticks_delta
    delta = after - before
    return delta if delta >= ticks_delta - 2.0 / procstat.CLK_TCK - 0.01 * ticks_delta else ticks_delta


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kind", choices=["wrk", "curl", "json"], required=True)
    p.add_argument("--gateway-pids", default="")
    p.add_argument("--backend-pids", default="")
    p.add_argument("--expect-bytes", type=int, default=0)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--quiet-wait", type=float, default=30)
    p.add_argument("--quiet-threshold", type=float, default=0.10)
    p.add_argument("--max-foreign", type=float, default=0.05)
    p.add_argument("--max-steal", type=float, default=0.05)
    p.add_argument("--label", action="append", default=[], help="key=value copied into the record")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        p.error("no command")

    record = {}
    for kv in a.label:
        k, _, v = kv.partition("=")
        record[k] = int(v) if v.isdigit() else v
    record["busy_before"] = round(wait_quiet(a.quiet_wait, a.quiet_threshold), 3)

    gateway = procstat.tree(pid_list(a.gateway_pids))
    backend = procstat.tree(pid_list(a.backend_pids))
    knet = procstat.kernel_net_threads()
    ours = set(gateway) | set(backend) | set(knet) | {os.getpid()}
    p0 = procstat.all_processes()
    m0 = procstat.machine()
    g0, b0, k0 = procstat.cpu_seconds(gateway), procstat.cpu_seconds(backend), procstat.cpu_seconds(knet)
    gp0, bp0 = procstat.cpu_seconds_precise(gateway), procstat.cpu_seconds_precise(backend)
    c0, s0 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    rss0 = procstat.rss_kib(gateway)
    start = time.monotonic()
    error = None
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=a.timeout)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc, error = -1, f"timed out after {a.timeout:.0f} s"
    wall = time.monotonic() - start
    m1 = procstat.machine()
    p1 = procstat.all_processes()
    foreign = procstat.others_cpu_seconds(p0, p1, ours | set(procstat.tree([os.getpid()])))
    g1, b1, k1 = procstat.cpu_seconds(gateway), procstat.cpu_seconds(backend), procstat.cpu_seconds(knet)
    gp1, bp1 = procstat.cpu_seconds_precise(gateway), procstat.cpu_seconds_precise(backend)
    c1, s1 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    rss1 = procstat.rss_kib(gateway)

    if a.kind == "wrk":
        parsed, perr = parse_wrk(out)
    elif a.kind == "curl":
        parsed, perr = parse_curl(out, a.expect_bytes)
    else:
        parsed, perr = parse_json(out)
    if error is None and rc != 0:
        error = f"{cmd[0]} exited with {rc}"
    error = error or perr
    record.update(parsed)

    gateway_cpu = precise(g1 - g0, gp0, gp1)
    backend_cpu = precise(b1 - b0, bp0, bp1)
    client = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    own = (s1.ru_utime + s1.ru_stime) - (s0.ru_utime + s0.ru_stime)
    d = procstat.machine_delta(m0, m1)
    accounted = (g1 - g0) + (b1 - b0) + client + (k1 - k0) + own
    capacity = d["total"] if d["total"] > 0 else wall * os.cpu_count()
    record.update({
        "wall_s": round(wall, 3),
        "gateway_cpu_s": round(gateway_cpu, 6) if gateway else None,
        "gateway_cpu_ticks_s": round(g1 - g0, 3) if gateway else None,
        "backend_cpu_s": round(backend_cpu, 6),
        "backend_cpu_ticks_s": round(b1 - b0, 3),
        "client_cpu_s": round(client, 3),
        "ksoftirqd_cpu_s": round(k1 - k0, 3),
        "machine_busy_s": round(d["busy"], 3),
        "machine_irq_s": round(d["irq"], 3),
        "unaccounted_cpu_s": round(d["busy"] - accounted - foreign, 3),
        "foreign_cpu_s": round(foreign, 3),
        "foreign_share": round(foreign / capacity, 4),
        "steal_share": round(d["steal"] / capacity, 4),
        "gateway_rss_kib_before": rss0 if gateway else None,
        "gateway_rss_kib_after": rss1 if gateway else None,
    })
    record["disturbed"] = record["foreign_share"] > a.max_foreign or record["steal_share"] > a.max_steal
    record["ok"] = error is None
    if error:
        record["error"] = error
        tail = "\n".join((err or out).strip().splitlines()[-15:])
        print(f"measure: {error}\n{tail}", file=sys.stderr)
    print(json.dumps(record, sort_keys=True))
    return 1 if error else 3 if record["disturbed"] else 0


if __name__ == "__main__":
    sys.exit(main())
