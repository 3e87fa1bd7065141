#!/usr/bin/env python3
"""Capture real client handshakes/request heads as kiagateway test fixtures.

Listens on an ephemeral loopback port (127.0.0.1 only), starts a real client
(openssl s_client, curl, headless chromium) against it, and saves what the
client sent first:

  tls  mode: exactly the TLS records that carry one complete ClientHello
             (record headers included; nothing after the last needed record).
  http mode: the request head, up to and including the first "\\r\\n\\r\\n".

Nothing ever answers the client: once the bytes are saved the connection is
closed and the client (and its process group) is terminated. Every step is
bounded by a timeout, so the script never hangs.

Subcommands:
  all            capture every fixture in CAPTURES, then write fixtures.tsv
                 and routes.toml (default when no subcommand is given)
  one NAME...    capture only the named fixtures (see `list`), no manifest
  list           list fixture names, files and client commands
  parse FILE...  print SNI / ALPN / details parsed from saved captures
  manifest       rewrite fixtures.tsv and routes.toml from the saved files

Only the Python standard library is used.
"""

import argparse
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = "127.0.0.1"
MAX_BYTES = 256 * 1024          # never buffer more than this per connection

# name -> (relative output file, mode, argv template). "{port}" is replaced by
# the listener's port, "{profile}" by a fresh temporary directory.
CHROMIUM_FLAGS = [
    "chromium", "--no-sandbox", "--headless", "--disable-gpu",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--no-proxy-server", "--disable-features=HttpsUpgrades",
    "--user-data-dir={profile}",
    # Only chromium.example.com resolves (to loopback); every other name
    # fails, so the browser can't reach anything but our listener.
    "--host-resolver-rules=MAP chromium.example.com 127.0.0.1, MAP * ~NOTFOUND",
]
CAPTURES = [
    ("openssl_s_client", "tls/openssl_s_client.bin", "tls",
     ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
      "-servername", "openssl.example.com"]),
    ("openssl_tls12", "tls/openssl_tls12.bin", "tls",
     ["openssl", "s_client", "-connect", "127.0.0.1:{port}", "-tls1_2",
      "-servername", "tls12.example.com"]),
    ("openssl_no_sni", "tls/openssl_no_sni.bin", "tls",
     ["openssl", "s_client", "-connect", "127.0.0.1:{port}", "-noservername"]),
    ("openssl_alpn", "tls/openssl_alpn.bin", "tls",
     ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
      "-servername", "alpn.example.com", "-alpn", "h2,http/1.1"]),
    ("curl", "tls/curl.bin", "tls",
     ["curl", "--noproxy", "*", "--max-time", "3", "-k", "--resolve",
      "curl.example.com:{port}:127.0.0.1", "https://curl.example.com:{port}/"]),
    ("chromium", "tls/chromium.bin", "tls",
     CHROMIUM_FLAGS + ["https://chromium.example.com:{port}/"]),
    ("curl_get", "http/curl_get.http", "http",
     ["curl", "--noproxy", "*", "--max-time", "3",
      "http://curl.example.com:{port}/path",
      "--resolve", "curl.example.com:{port}:127.0.0.1"]),
    ("chromium_get", "http/chromium_get.http", "http",
     CHROMIUM_FLAGS + ["http://chromium.example.com:{port}/"]),
]

# Backend each name routes to (distinct port per name), per protocol.
BACKENDS = {
    "http": {
        "curl.example.com": "127.0.0.1:8001",
        "chromium.example.com": "127.0.0.1:8002",
    },
    "tls": {
        "openssl.example.com": "127.0.0.1:9001",
        "tls12.example.com": "127.0.0.1:9002",
        "alpn.example.com": "127.0.0.1:9003",
        "curl.example.com": "127.0.0.1:9004",
        "chromium.example.com": "127.0.0.1:9005",
    },
}


# ---------------------------------------------------------------- framing --

def tls_clienthello_end(buf):
    """Return the byte length of the TLS records holding one complete
    handshake message (the ClientHello), None if more bytes are needed.
    Raises ValueError if the bytes are not TLS handshake records."""
    pos = 0
    hs = b""
    while True:
        if len(buf) - pos < 5:
            return None
        ctype, major = buf[pos], buf[pos + 1]
        length = int.from_bytes(buf[pos + 3:pos + 5], "big")
        if ctype != 22 or major != 3 or length == 0 or length > 16384 + 2048:
            raise ValueError("not a TLS handshake record at offset %d: %s"
                             % (pos, buf[pos:pos + 5].hex()))
        if len(buf) - pos - 5 < length:
            return None
        hs += buf[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return pos


def http_head_end(buf):
    i = buf.find(b"\r\n\r\n")
    return None if i < 0 else i + 4


# ---------------------------------------------------------------- capture --

def kill_group(proc, grace=3.0):
    """Terminate the process group of a client we started (by its id)."""
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def capture(mode, argv_tmpl, out_path, timeout, verbose=False):
    """Listen, run the client, save the first complete message. Returns the
    captured bytes. Several connections are accepted (browsers may open
    spare ones); the first one to deliver a complete message wins."""
    end_fn = tls_clienthello_end if mode == "tls" else http_head_end
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((LOOPBACK, 0))
    lsock.listen(8)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="kiagw-capture-")
    argv = [a.replace("{port}", str(port)).replace("{profile}", profile)
            for a in argv_tmpl]
    if verbose:
        print("  port %d: %s" % (port, " ".join(argv)), file=sys.stderr)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    conns = {}
    result = None
    deadline = time.monotonic() + timeout
    try:
        while result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete message within %ss" % timeout)
            for key, _ in sel.select(min(left, 0.5)):
                if key.data is None:
                    try:
                        c, _ = lsock.accept()
                    except BlockingIOError:
                        continue
                    c.setblocking(False)
                    conns[c] = b""
                    sel.register(c, selectors.EVENT_READ, "conn")
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()
                    del conns[c]
                    continue
                conns[c] += data
                if len(conns[c]) > MAX_BYTES:
                    raise ValueError("message larger than %d bytes" % MAX_BYTES)
                end = end_fn(conns[c])
                if end is not None:
                    result = conns[c][:end]
                    break
            if result is None and proc.poll() is not None and not conns:
                log.seek(0)
                raise RuntimeError("client exited (rc=%s) without sending:\n%s"
                                   % (proc.returncode,
                                      log.read()[-2000:].decode("replace")))
    finally:
        for c in list(conns):
            c.close()
        sel.close()
        lsock.close()
        kill_group(proc)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(result)
    os.replace(tmp, out_path)
    return result


# ---------------------------------------------------------------- parsing --

def is_grease(v):
    return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)


GROUP_NAMES = {0x001d: "x25519", 0x0017: "secp256r1", 0x0018: "secp384r1",
               0x0019: "secp521r1", 0x001e: "x448", 0x11ec: "X25519MLKEM768",
               0x6399: "X25519Kyber768Draft00", 0x0100: "ffdhe2048",
               0x0101: "ffdhe3072"}


def parse_tls(data):
    """Independent ClientHello parser. Returns a dict of what it found."""
    hs = b""
    pos = records = 0
    while pos < len(data):
        if data[pos] != 22:
            raise ValueError("record type %d at %d" % (data[pos], pos))
        n = int.from_bytes(data[pos + 3:pos + 5], "big")
        hs += data[pos + 5:pos + 5 + n]
        pos += 5 + n
        records += 1
    if pos != len(data):
        raise ValueError("truncated record")
    if hs[0] != 1:
        raise ValueError("handshake type %d is not ClientHello" % hs[0])
    hlen = int.from_bytes(hs[1:4], "big")
    if len(hs) != 4 + hlen:
        raise ValueError("handshake length %d, have %d" % (hlen, len(hs) - 4))
    b = hs[4:]
    p = 2 + 32                                   # legacy_version, random
    p += 1 + b[p]                                # session id
    ncs = int.from_bytes(b[p:p + 2], "big")
    suites = [int.from_bytes(b[p + 2 + i:p + 4 + i], "big")
              for i in range(0, ncs, 2)]
    p += 2 + ncs
    p += 1 + b[p]                                # compression methods
    info = {"records": records, "size": len(data), "sni": None, "alpn": None,
            "legacy_version": "%04x" % int.from_bytes(b[0:2], "big"),
            "grease": any(is_grease(s) for s in suites), "ext": [],
            "key_share": [], "supported_versions": []}
    if p == len(b):
        return info
    end = p + 2 + int.from_bytes(b[p:p + 2], "big")
    if end != len(b):
        raise ValueError("extensions length mismatch")
    p += 2
    while p < end:
        et = int.from_bytes(b[p:p + 2], "big")
        el = int.from_bytes(b[p + 2:p + 4], "big")
        e = b[p + 4:p + 4 + el]
        p += 4 + el
        info["ext"].append(et)
        if is_grease(et):
            info["grease"] = True
        if et == 0 and el:                       # server_name
            q = 2
            while q < len(e):
                t, ln = e[q], int.from_bytes(e[q + 1:q + 3], "big")
                if t == 0:
                    info["sni"] = e[q + 3:q + 3 + ln].decode("ascii").lower()
                    break
                q += 3 + ln
        elif et == 16:                           # ALPN
            q, protos = 2, []
            while q < len(e):
                protos.append(e[q + 1:q + 1 + e[q]].decode("ascii"))
                q += 1 + e[q]
            info["alpn"] = protos
        elif et == 51:                           # key_share
            q = 2
            while q < len(e):
                g = int.from_bytes(e[q:q + 2], "big")
                kl = int.from_bytes(e[q + 2:q + 4], "big")
                info["key_share"].append((g, kl))
                q += 4 + kl
        elif et == 43:                           # supported_versions
            info["supported_versions"] = [
                "%04x" % int.from_bytes(e[1 + i:3 + i], "big")
                for i in range(0, e[0], 2)]
    info["ech"] = 0xfe0d in info["ext"]
    info["pq"] = any(g in (0x11ec, 0x6399) for g, _ in info["key_share"])
    return info


def parse_http(data):
    head = data.decode("latin-1")
    lines = head.split("\r\n")
    host = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "host":
            host = v.strip()
            break
    name = host
    if name and not name.startswith("["):
        name = name.rsplit(":", 1)[0]
    return {"request_line": lines[0], "host": host,
            "sni": name.lower() if name else None, "alpn": None,
            "size": len(data)}


def parse_file(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:1] == b"\x16":
        return "tls", parse_tls(data)
    return "http", parse_http(data)


def describe(path):
    proto, i = parse_file(path)
    out = ["%s: %s, %d bytes" % (os.path.relpath(path, HERE), proto, i["size"]),
           "  name: %s" % (i["sni"] or "-"),
           "  alpn: %s" % (",".join(i["alpn"]) if i["alpn"] else "-")]
    if proto == "tls":
        out.append("  records: %d  legacy_version: %s  supported_versions: %s"
                   % (i["records"], i["legacy_version"],
                      ",".join(i["supported_versions"]) or "-"))
        out.append("  extensions: %s" % " ".join("%04x" % e for e in i["ext"]))
        out.append("  key_share: %s" % (", ".join(
            "%s(%d)" % (GROUP_NAMES.get(g, "grease" if is_grease(g)
                                        else "%04x" % g), kl)
            for g, kl in i["key_share"]) or "-"))
        out.append("  grease: %s  ech(0xfe0d): %s  post-quantum key share: %s"
                   % (i["grease"], i["ech"], i["pq"]))
    else:
        out.append("  request: %s  Host: %s" % (i["request_line"], i["host"]))
    return "\n".join(out)


# --------------------------------------------------------------- manifest --

def write_manifest():
    rows = ["file\tprotocol\tname\talpn\tbackend"]
    names = {"http": set(), "tls": set()}
    for _, rel, mode, _ in CAPTURES:
        path = os.path.join(HERE, rel)
        if not os.path.exists(path):
            print("manifest: skipping missing %s" % rel, file=sys.stderr)
            continue
        proto, i = parse_file(path)
        name = i["sni"] or "-"
        alpn = ",".join(i["alpn"]) if i["alpn"] else "-"
        backend = BACKENDS[proto].get(name, "-") if name != "-" else "-"
        if name != "-" and backend == "-":
            raise SystemExit("no backend configured for %s %s" % (proto, name))
        if name != "-":
            names[proto].add(name)
        rows.append("\t".join([rel, proto, name, alpn, backend]))
    with open(os.path.join(HERE, "fixtures.tsv"), "w", newline="\n") as f:
        f.write("\n".join(rows) + "\n")
    toml = ["# kiagateway routes for the captured fixtures (see fixtures.tsv).",
            "# Generated by capture.py; each name has a distinct backend port.",
            "", "[http_backends]"]
    toml += ['"%s" = "%s"' % (n, BACKENDS["http"][n])
             for n in sorted(names["http"], key=BACKENDS["http"].get)]
    toml += ["", "[https_backends]"]
    toml += ['"%s" = "%s"' % (n, BACKENDS["tls"][n])
             for n in sorted(names["tls"], key=BACKENDS["tls"].get)]
    with open(os.path.join(HERE, "routes.toml"), "w", newline="\n") as f:
        f.write("\n".join(toml) + "\n")


# ------------------------------------------------------------------- main --

def run(names, timeout, verbose):
    failed = []
    for name, rel, mode, argv in CAPTURES:
        if names and name not in names:
            continue
        if not shutil.which(argv[0]):
            print("%s: SKIPPED, %s not installed" % (name, argv[0]))
            failed.append(name)
            continue
        t = timeout if not argv[0].startswith("chromium") else max(timeout, 30)
        try:
            capture(mode, argv, os.path.join(HERE, rel), t, verbose)
            print(describe(os.path.join(HERE, rel)))
        except Exception as e:  # report and go on with the next client
            print("%s: FAILED: %s" % (name, e))
            failed.append(name)
    return failed


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=15.0,
                    help="seconds to wait for one capture (chromium: at "
                         "least 30)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the port and client command line")
    sub = ap.add_subparsers(dest="cmd")
    sub.add_parser("all", help="capture everything and rewrite the manifest")
    p1 = sub.add_parser("one", help="capture the named fixtures only")
    p1.add_argument("names", nargs="+", choices=[c[0] for c in CAPTURES])
    sub.add_parser("list", help="list fixtures and client commands")
    pp = sub.add_parser("parse", help="print SNI/ALPN parsed from files")
    pp.add_argument("files", nargs="+")
    sub.add_parser("manifest", help="rewrite fixtures.tsv and routes.toml")
    a = ap.parse_args()
    cmd = a.cmd or "all"
    if cmd == "list":
        for name, rel, mode, argv in CAPTURES:
            print("%-17s %-5s %-26s %s" % (name, mode, rel, " ".join(argv)))
        return 0
    if cmd == "parse":
        for f in a.files:
            print(describe(f))
        return 0
    if cmd == "manifest":
        write_manifest()
        return 0
    failed = run(a.names if cmd == "one" else None, a.timeout, a.verbose)
    if cmd == "all":
        write_manifest()
    if failed:
        print("failed: %s" % " ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
