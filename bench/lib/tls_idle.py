#!/usr/bin/env python3
"""S5: opens N TLS connections through a listener (each a full handshake with SNI, end to end with the
backend), holds them all open and idle, and reports how much the RSS (VmRSS) of the given process tree
grew per connection. No tool does this, hence this script. Prints one JSON line.

  tls_idle.py --port 8443 --sni bench.test --count 5000 --pids 1234
"""
import argparse
import json
import os
import resource
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402


def run(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    pids = procstat.tree([int(p) for p in a.pids.split(",") if p])
    rss_before, pss_before = procstat.rss_kib(pids), procstat.pss_kib(pids)
    conns, failures, lock = [], [], threading.Lock()

    def connect(_):
        # Blocking sockets in a few threads: the handshake runs in OpenSSL without the GIL, which is
        # faster than asyncio's TLS in Python.
        try:
            sock = socket.create_connection((a.host, a.port), timeout=a.connect_timeout)
            tls = ctx.wrap_socket(sock, server_hostname=a.sni)
            with lock:
                conns.append(tls)
        except (OSError, ssl.SSLError) as e:
            with lock:
                failures.append(type(e).__name__ + ": " + str(e))

    start = time.monotonic()
    with ThreadPoolExecutor(a.concurrency) as pool:
        list(pool.map(connect, range(a.count)))
    established_s = time.monotonic() - start
    time.sleep(a.settle)
    rss_after, pss_after = procstat.rss_kib(pids), procstat.pss_kib(pids)
    # Still open: the peer has not closed them (a closed one reads as ready with EOF).
    still_open = 0
    for c in conns:
        c.setblocking(False)
        try:
            still_open += 1 if c.recv(1) else 0
        except (ssl.SSLWantReadError, BlockingIOError):
            still_open += 1
        except (OSError, ssl.SSLError):
            pass
    for c in conns:
        c.close()
    n = len(conns)
    result = {
        "connections": n,
        "units": n,
        "failed": len(failures),
        "established_s": round(established_s, 3),
        "rate": round(n / established_s, 1) if established_s > 0 else 0,
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
        "rss_kib_per_conn": round((rss_after - rss_before) / n, 3) if n else None,
        "pss_kib_before": pss_before,
        "pss_kib_after": pss_after,
        "pss_kib_per_conn": round((pss_after - pss_before) / n, 3) if n else None,
        "still_open": still_open,
    }
    if failures:
        result["first_failure"] = failures[0]
    if n < a.count * 0.99 or still_open < n * 0.99:
        result["error"] = f"{n} of {a.count} connections established, {still_open} still open"
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sni", default="bench.test")
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=8, help="handshakes in flight at once")
    p.add_argument("--connect-timeout", type=float, default=20)
    p.add_argument("--settle", type=float, default=1.0, help="seconds idle before RSS is read")
    p.add_argument("--pids", required=True, help="roots of the process tree whose RSS is read")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    run(a)


if __name__ == "__main__":
    main()
