#!/usr/bin/env python3
"""The quick-start demo: two HTTP backends and one TLS backend on loopback, kiagateway in front of
them on unprivileged ports, and curl showing requests routed by Host and by SNI. Runs until Ctrl-C.

Usage: scripts/demo.py KIAGATEWAY_BINARY   (scripts/demo builds the binary and calls this)
"""

import http.server
import os
import pathlib
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

NAMES = {"blog": "blog.demo.test", "shop": "shop.demo.test", "secure": "secure.demo.test"}


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def backend(message, context=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{message} (you asked for Host: {self.headers.get('Host')})\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return serve(server)


def free_or_any(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            return 0


def run(cmd):
    shown = shlex.join(cmd)
    print(f"\n$ {shown}")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    print((result.stdout + result.stderr).rstrip() or f"(exit {result.returncode})")


def main():
    binary = os.path.abspath(sys.argv[1])
    work = pathlib.Path(tempfile.mkdtemp(prefix="kiagateway-demo-"))
    cert, key = work / "secure.pem", work / "secure.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
                    "-out", str(cert), "-subj", f"/CN={NAMES['secure']}",
                    "-addext", f"subjectAltName=DNS:{NAMES['secure']}"], check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    blog = backend("Hello from the blog backend")
    shop = backend("Hello from the shop backend")
    secure = backend("Hello over TLS from the secure backend: the gateway only read the SNI", tls)
    http_port, https_port = free_or_any(8080), free_or_any(8443)
    config = work / "demo.toml"
    config.write_text(f"""# Written by scripts/demo.py
[gateway]
http_listen = ["127.0.0.1:{http_port}"]
https_listen = ["127.0.0.1:{https_port}"]
workers = 2
access_log = "{(work / 'access.log').as_posix()}"

[http_backends]
"{NAMES['blog']}" = "127.0.0.1:{blog}"
"*.shop.demo.test" = "127.0.0.1:{shop}"
"{NAMES['shop']}" = "127.0.0.1:{shop}"

[https_backends]
"{NAMES['secure']}" = "127.0.0.1:{secure}"
""")
    # Its own session: Ctrl-C reaches this script, which forwards one SIGTERM (a second signal
    # would make the gateway stop at once instead of draining).
    gateway = subprocess.Popen([binary, "run", "-c", str(config)], stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    ports = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "ready" not in ports:
        line = gateway.stderr.readline()
        if not line:
            break
        print(line.rstrip())
        if "listening for" in line:
            proto, address = line.split("listening for ")[1].split(" on ")
            ports[proto] = address.strip().rsplit(":", 1)[1]
        if "ready:" in line:
            ports["ready"] = True
    if "ready" not in ports:
        print("the gateway did not start; see the lines above", file=sys.stderr)
        gateway.kill()
        return 1
    threading.Thread(target=lambda: [print(l.rstrip()) for l in gateway.stderr], daemon=True).start()
    hp, tp = ports["http"], ports["tls"]

    print(f"\nBackends: blog 127.0.0.1:{blog}, shop 127.0.0.1:{shop}, secure (TLS) 127.0.0.1:{secure}")
    print(f"Config:   {config}")
    run(["curl", "-s", "-H", f"Host: {NAMES['blog']}", f"http://127.0.0.1:{hp}/"])
    run(["curl", "-s", "--resolve", f"www.shop.demo.test:{hp}:127.0.0.1", f"http://www.shop.demo.test:{hp}/"])
    run(["curl", "-s", "-i", "-H", "Host: unknown.demo.test", f"http://127.0.0.1:{hp}/"])
    run(["curl", "-s", "--cacert", str(cert), "--resolve", f"{NAMES['secure']}:{tp}:127.0.0.1",
         f"https://{NAMES['secure']}:{tp}/"])
    run(["curl", "-sS", "-k", "--resolve", f"unknown.demo.test:{tp}:127.0.0.1", f"https://unknown.demo.test:{tp}/"])
    time.sleep(0.3)
    print(f"\nAccess log ({work / 'access.log'}):")
    print((work / "access.log").read_text().rstrip())

    print(f"""
kiagateway is running. Try it yourself:
  curl -H 'Host: {NAMES['blog']}' http://127.0.0.1:{hp}/
  curl --cacert {cert} --resolve {NAMES['secure']}:{tp}:127.0.0.1 https://{NAMES['secure']}:{tp}/
  kill -HUP {gateway.pid}     # reload {config}
Press Ctrl-C to stop.""")
    try:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        gateway.wait()
    except KeyboardInterrupt:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
