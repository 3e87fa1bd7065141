#!/usr/bin/env python3
"""S6: a 100 000-route config. For each peer, the time from exec to its TLS listener accepting with a
1-route and with an N-route table (the difference is the time to load the routes), the RSS with the
N routes, and a TLS handshake routed by one of them; for kiagateway also kiagateway_config_bench
(load + validate in-process, and route lookups per second). Prints one JSON line per peer.

Each peer's table is the one it would use for the job: kiagateway [https_backends], an HAProxy map
file (exact match, `map()`), an nginx stream `map` (hash), a sniproxy table (regular expressions,
tried in order). All names are exact: site0.bench.test ... site{N-1}.bench.test.
"""
import argparse
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402


def names(n):
    return [f"site{i}.bench.test" for i in range(n)]


def write_configs(peer, d, n, port, backend):
    os.makedirs(d, exist_ok=True)
    hosts = names(n)
    if peer == "kiagateway":
        path = f"{d}/kiagateway.toml"
        with open(path, "w") as f:
            f.write(f'[gateway]\nhttp_listen = []\nhttps_listen = ["127.0.0.1:{port}"]\n'
                    'access_log = "off"\nworkers = 1\n\n[https_backends]\n')
            f.writelines(f'"{h}" = "127.0.0.1:{backend}"\n' for h in hosts)
        return [a_.kiagateway, "run", "-c", path]
    if peer == "haproxy":
        with open(f"{d}/routes.map", "w") as f:
            f.writelines(f"{h} be_tls\n" for h in hosts)
        path = f"{d}/haproxy.cfg"
        with open(path, "w") as f:
            f.write(f"""global
    nbthread 1
    maxconn 7000
defaults
    mode tcp
    maxconn 7000
    timeout connect 3s
    timeout client 300s
    timeout server 300s
frontend fe_tls
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend %[req.ssl_sni,lower,map({d}/routes.map)]
backend be_tls
    server s1 127.0.0.1:{backend}
""")
        return ["haproxy", "-db", "-f", path]
    if peer == "nginx":
        os.makedirs(f"{d}/nginx", exist_ok=True)
        path = f"{d}/nginx.conf"
        with open(path, "w") as f:
            f.write(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx/error.log warn;
events {{ worker_connections 1024; }}
stream {{
    map_hash_max_size 262144;
    map_hash_bucket_size 64;
    map $ssl_preread_server_name $up {{
        default unix:{d}/nowhere.sock;
""")
            f.writelines(f"        {h} 127.0.0.1:{backend};\n" for h in hosts)
            f.write(f"""    }}
    server {{
        listen 127.0.0.1:{port};
        ssl_preread on;
        proxy_pass $up;
    }}
}}
""")
        return ["nginx", "-e", f"{d}/nginx/error.log", "-p", f"{d}/nginx", "-c", path]
    if peer == "sniproxy":
        path = f"{d}/sniproxy.conf"
        with open(path, "w") as f:
            f.write(f"""pidfile {d}/sniproxy.pid
error_log {{
    filename {d}/sniproxy-error.log
    priority notice
}}
listener 127.0.0.1:{port} {{
    protocol tls
    table tls_t
}}
table tls_t {{
""")
            f.writelines(f"    ^{re.escape(h)}$ 127.0.0.1:{backend}\n" for h in hosts)
            f.write("}\n")
        return ["sniproxy", "-f", "-c", path]
    raise ValueError(peer)


def accepting(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def handshake(port, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=name):
                return True
    except OSError:
        return False


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def start_and_time(peer, n, tag):
    d = f"{a_.workdir}/{peer}-{tag}"
    cmd = ["taskset", "-c", a_.gateway_cpu] + write_configs(peer, d, n, a_.port, a_.backend_tls_port)
    log = open(f"{d}/stdout-stderr.log", "w")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not accepting(a_.port):
            if proc.poll() is not None:
                raise RuntimeError(f"{peer} exited with {proc.returncode}, see {d}/stdout-stderr.log")
            if time.monotonic() - start > a_.timeout:
                raise RuntimeError(f"{peer} did not listen within {a_.timeout} s, see {d}/stdout-stderr.log")
            time.sleep(0.002)
        ready = time.monotonic() - start
        time.sleep(0.3)  # nginx: the worker starts after the master listens
        rss = procstat.pss_kib(procstat.tree([proc.pid]))
        routed = handshake(a_.port, f"site{n * 7 // 10}.bench.test" if n > 1 else "site0.bench.test")
    finally:
        stop(proc)
    return ready, rss, routed


def config_bench():
    out = subprocess.run(["taskset", "-c", a_.gateway_cpu, a_.config_bench, str(a_.routes), str(a_.rounds)],
                         capture_output=True, text=True, timeout=600).stdout
    r = {}
    m = re.search(r"load\+validate: median ([\d.]+) s", out)
    if m:
        r["bench_load_s"] = float(m.group(1))
    m = re.search(r"lookups: ([\d.]+) million/s", out)
    if m:
        r["lookups_per_s"] = float(m.group(1)) * 1e6
    return r


def main():
    global a_
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peers", default="kiagateway,haproxy,nginx,sniproxy")
    p.add_argument("--routes", type=int, default=100000)
    p.add_argument("--rounds", type=int, default=5, help="kiagateway_config_bench rounds")
    p.add_argument("--workdir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend-tls-port", type=int, required=True)
    p.add_argument("--gateway-cpu", default="1")
    p.add_argument("--kiagateway", required=True)
    p.add_argument("--config-bench", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--run", type=int, default=1)
    a_ = p.parse_args()
    status = 0
    for peer in [x for x in a_.peers.split(",") if x and x != "direct"]:
        record = {"scenario": "S6", "peer": peer, "run": a_.run, "routes": a_.routes}
        try:
            one, _, routed_one = start_and_time(peer, 1, "1")
            big, rss, routed = start_and_time(peer, a_.routes, "n")
            record.update(startup_1_s=round(one, 4), startup_n_s=round(big, 4), load_s=round(big - one, 4),
                          pss_kib=rss, routed=routed and routed_one,
                          ok=routed and routed_one)
            if not record["ok"]:
                record["error"] = "a TLS handshake routed by the table failed"
            if peer == "kiagateway":
                record.update(config_bench())
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            record.update(ok=False, error=str(e))
            status = 1
        print(json.dumps(record, sort_keys=True), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
