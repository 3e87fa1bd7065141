"""The container image: a fully static kiagateway, alone in a scratch image (the Dockerfile).

No Docker engine is needed. The tests check that the built binary is static and runs on its own, that
the Dockerfile builds it with the commands CI runs and ships it unprivileged, and then run it the way
the image does: in a chroot holding exactly what the Dockerfile's final stage copies (read from the
Dockerfile), as its USER, with its ENTRYPOINT and CMD, plus what Docker adds at run time (/etc/hosts,
/etc/resolv.conf, the mounted config).

As root with namespaces (unshare), that run is a container's: its own network namespace with the
sysctl Docker sets, the image's default ports 80 and 443, a DNS server at Docker's 127.0.0.11, and the
gateway as PID 1 of its own PID namespace. Where namespaces are not allowed (inside `docker build`),
it runs in the chroot on ephemeral loopback ports instead. Traffic stays on loopback.
"""

import fcntl
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from paths import BINARY, SOURCE

DOCKERFILE = SOURCE / "Dockerfile"
CLIENT_HELLO = SOURCE / "tests" / "data" / "tls" / "curl.bin"  # SNI curl.example.com
LISTENING = re.compile(r"listening for (http|tls) on (\S+)")


# --- the Dockerfile ---------------------------------------------------------------------------------

class Stage:
    def __init__(self, from_args):
        words = from_args.split()
        self.base = words[0]
        self.name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
        self.instructions = []  # (INSTRUCTION, arguments)

    def all(self, instruction):
        return [args for name, args in self.instructions if name == instruction]

    def one(self, instruction):
        found = self.all(instruction)
        if len(found) != 1:
            raise AssertionError(f"the stage FROM {self.base} has {len(found)} {instruction} lines, not one")
        return found[0]


def dockerfile_stages():
    """The Dockerfile's stages in order; comments dropped, continuation lines joined."""
    stages, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        pending = ""
        if instruction.upper() == "FROM":
            stages.append(Stage(args))
        elif stages:
            stages[-1].instructions.append((instruction.upper(), args.strip()))
    return stages


def lay_out_image(root, stages):
    """Copies into `root` what the final stage's COPY lines ship; the build stage's binary is BINARY."""
    build_names = {stage.name for stage in stages[:-1]}
    for args in stages[-1].all("COPY"):
        words = shlex.split(args)
        options = dict(word[2:].split("=", 1) for word in words if word.startswith("--"))
        *sources, dest = [word for word in words if not word.startswith("--")]
        for source in sources:
            if "from" in options:
                if options["from"] not in build_names or os.path.basename(source) != "kiagateway":
                    raise AssertionError(f"COPY {args}: only the built kiagateway binary is expected from a stage")
                origin = BINARY
            else:
                origin = SOURCE / source
            target = root / dest.lstrip("/")
            if os.path.isdir(origin):
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                if dest.endswith("/"):
                    target = target / os.path.basename(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


# --- backends and clients for the run ---------------------------------------------------------------

class EchoHostHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = f"backend saw {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HelloHandler(socketserver.BaseRequestHandler):
    """A TLS 'backend' that checks the ClientHello arrived byte for byte (the gateway never decrypts)."""

    def handle(self):
        want = CLIENT_HELLO.read_bytes()
        got = b""
        self.request.settimeout(5)
        while len(got) < len(want):
            chunk = self.request.recv(65536)
            if not chunk:
                break
            got += chunk
        self.request.sendall(b"tls backend: ClientHello intact" if got == want else b"tls backend: bytes differ")


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


def serve_dns(sock, records, stop):
    """A minimal DNS server: A records for `records`, no data for other types of those names, NXDOMAIN
    for the rest (the image's static getaddrinfo asks it for what /etc/hosts does not have)."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            query, peer = sock.recvfrom(512)
        except socket.timeout:
            continue
        labels, pos = [], 12
        while query[pos]:
            labels.append(query[pos + 1:pos + 1 + query[pos]].decode())
            pos += 1 + query[pos]
        qtype = struct.unpack(">H", query[pos + 1:pos + 3])[0]
        name = ".".join(labels).lower()
        answer = b""
        if name in records and qtype == 1:
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton(records[name])
        flags = 0x8180 | (0 if name in records else 3)
        header = struct.pack(">HHHHHH", struct.unpack(">H", query[:2])[0], flags, 1, 1 if answer else 0, 0, 0)
        sock.sendto(header + query[12:pos + 5] + answer, peer)


def exchange(port, payload, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def http_body(port, host):
    response = exchange(port, f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return response.partition(b"\r\n\r\n")[2].decode(errors="replace")


def loopback_up():
    """`ip link set lo up`, without iproute2: a new network namespace starts with lo down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, 0x8913, struct.pack("16sH22x", b"lo", 0)))[1]  # GIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- the run: the image's root, user, entrypoint and command ----------------------------------------

def run_image(spec):
    """Runs the gateway as the image would and returns what was seen (a dict of plain values).

    spec: root, user ("uid:gid"), entrypoint, cmd, config (path inside the root), container (own
    network namespace: we are its only user, so ports 80/443 and 127.0.0.11:53 are ours).
    """
    root, container = spec["root"], spec["container"]
    seen = {}
    stop = threading.Event()
    servers, sockets, gateway = [], [], None
    log_path = os.path.join(os.path.dirname(root), "gateway.log")
    try:
        if container:
            loopback_up()
            dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(dns)
            dns.bind(("127.0.0.11", 53))
            threading.Thread(target=serve_dns, args=(dns, {"api": "127.0.0.1"}, stop), daemon=True).start()
        web = ThreadingHTTPServer(("127.0.0.1", 0), EchoHostHandler)
        tls = TcpServer(("127.0.0.1", 0), HelloHandler)
        for server in (web, tls):
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        web_port, tls_port = web.server_address[1], tls.server_address[1]

        # What Docker adds at run time: /etc/hosts (with --add-host names), /etc/resolv.conf (its embedded
        # DNS on user-defined networks), and the config mounted read-only.
        etc = os.path.join(root, "etc")
        with open(os.path.join(etc, "hosts"), "w") as hosts:
            hosts.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.0.1\tweb tls-backend\n")
        with open(os.path.join(etc, "resolv.conf"), "w") as resolv:
            resolv.write("nameserver 127.0.0.11\noptions ndots:0\n" if container
                         else "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        config = os.path.join(root, spec["config"].lstrip("/"))
        os.makedirs(os.path.dirname(config), exist_ok=True)
        # In a container: no [gateway] table, so the defaults (ports 80 and 443) the image EXPOSEs.
        gateway_table = "" if container else \
            '[gateway]\nhttp_listen = ["127.0.0.1:0"]\nhttps_listen = ["127.0.0.1:0"]\nworkers = 1\n'
        routes = f'"web.example" = "web:{web_port}"\n' + (f'"api.example" = "api:{web_port}"\n' if container else "")

        def write_config(extra=""):
            with open(config, "w") as handle:
                handle.write(f"{gateway_table}[http_backends]\n{routes}{extra}\n"
                             f'[https_backends]\n"curl.example.com" = "tls-backend:{tls_port}"\n')
            os.chmod(config, 0o644)
        write_config()

        as_user = ["chroot", f"--userspec={spec['user']}", root]
        validate = subprocess.run(as_user + spec["entrypoint"] + ["validate", "-c", spec["config"]],
                                  capture_output=True, text=True, timeout=30)
        seen["validate"] = [validate.returncode, validate.stdout + validate.stderr]

        command = as_user + spec["entrypoint"] + spec["cmd"]
        if container:
            # A new network namespace starts with ports below 1024 privileged: the user cannot bind 80...
            try:
                early = subprocess.run(command, capture_output=True, text=True, timeout=10)
                seen["privileged_ports"] = [early.returncode, early.stderr[-500:]]
            except subprocess.TimeoutExpired:
                seen["privileged_ports"] = [None, "it bound port 80 and kept running"]
            # ...until the runtime sets what Docker sets. And the gateway is PID 1, as in a container.
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as sysctl:
                sysctl.write("0")
            command = ["unshare", "--pid", "--fork", "--kill-child"] + command

        log = open(log_path, "w")
        gateway = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def text():
            with open(log_path) as handle:
                return handle.read()
        seen["ready"] = wait_for(lambda: "info: ready" in text() or gateway.poll() is not None, 10) \
            and "info: ready" in text()
        if not seen["ready"]:
            return seen
        pid = gateway.pid
        if container:  # the gateway is the child of unshare
            with open(f"/proc/{gateway.pid}/task/{gateway.pid}/children") as children:
                pid = int(children.read().split()[0])
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        seen["uid"], seen["gid"] = fields["Uid"].split()[1], fields["Gid"].split()[1]
        seen["nspid"] = fields["NSpid"].split()

        listeners = {}
        for protocol, address in LISTENING.findall(text()):
            listeners.setdefault(protocol, []).append(address)
        seen["listeners"] = listeners
        http_port = int(listeners["http"][0].rpartition(":")[2])
        tls_port_gw = int(listeners["tls"][0].rpartition(":")[2])

        seen["web"] = http_body(http_port, "web.example")
        if container:
            seen["api"] = http_body(http_port, "api.example")
        seen["tls"] = exchange(tls_port_gw, CLIENT_HELLO.read_bytes()).decode(errors="replace")

        # docker kill -s HUP: reload the mounted file.
        write_config(f'"new.example" = "web:{web_port}"\n')
        os.kill(pid, signal.SIGHUP)
        seen["reloaded"] = wait_for(lambda: "info: reloaded" in text(), 5)
        seen["new"] = http_body(http_port, "new.example") if seen["reloaded"] else ""

        # docker stop: SIGTERM, and a prompt exit 0 (nothing open to drain).
        began = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        seen["stop_status"] = gateway.wait(timeout=10)
        seen["stop_seconds"] = round(time.monotonic() - began, 2)
        return seen
    except Exception:  # noqa: BLE001 - reported to the test, with the log
        seen["error"] = traceback.format_exc()
        return seen
    finally:
        if gateway is not None and gateway.poll() is None:
            gateway.kill()
            gateway.wait()
        stop.set()
        for server in servers:
            server.shutdown()
            server.server_close()
        for sock in sockets:
            sock.close()
        if os.path.exists(log_path):
            with open(log_path) as handle:
                seen["log"] = handle.read()


def namespaces_work():
    try:
        return subprocess.run(["unshare", "--net", "--pid", "--fork", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# --- the tests --------------------------------------------------------------------------------------

class StaticBinary(unittest.TestCase):
    _run = None  # the image run, made once for the tests that look at it

    @classmethod
    def setUpClass(cls):
        cls.stages = dockerfile_stages()
        cls.build, cls.final = cls.stages[0], cls.stages[-1]

    def test_file_says_statically_linked(self):
        if not shutil.which("file"):
            self.skipTest("`file` is not installed (apt-get install file)")
        output = subprocess.run(["file", "-L", BINARY], capture_output=True, text=True, timeout=30).stdout
        self.assertRegex(output, r"statically linked|static-pie linked")

    def test_ldd_says_not_dynamic(self):
        result = subprocess.run(["ldd", BINARY], capture_output=True, text=True, timeout=30)
        self.assertRegex(result.stdout + result.stderr, r"not a dynamic executable|statically linked")

    def test_version_is_the_project_version(self):
        version = re.search(r"project\(\s*kiagateway\s+VERSION\s+(\S+)", (SOURCE / "CMakeLists.txt").read_text())[1]
        result = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), f"kiagateway {version}")

    # The Dockerfile.

    def test_build_stage_runs_what_ci_runs(self):
        self.assertEqual(self.build.base, "debian:12")
        runs = " && ".join(self.build.all("RUN"))
        self.assertIn("scripts/deps", runs)
        self.assertIn("cmake --workflow --preset static", runs)
        # The same preset is proved by CI, directly or through scripts/test (= scripts/deps + the workflow).
        ci = (SOURCE / ".ci" / "run").read_text()
        self.assertTrue(re.search(r"(?m)^[^#\n]*(cmake --workflow --preset static|scripts/test static)\b", ci),
                        ".ci/run does not run the static workflow that the Dockerfile's build stage runs")
        self.assertTrue(re.search(r"(?m)^[^#\n]*scripts/(deps|test)\b", ci), ".ci/run does not run scripts/deps")

    def test_final_stage_is_scratch_and_non_root(self):
        self.assertEqual(self.final.base, "scratch")
        self.assertEqual(len(self.stages), 2, "a build stage and the scratch image")
        user = self.final.one("USER")
        self.assertRegex(user, r"^\d+:\d+$", "a numeric uid:gid, so Kubernetes' runAsNonRoot can check it")
        uid, gid = user.split(":")
        self.assertNotEqual(uid, "0")
        self.assertNotEqual(gid, "0")
        rootfs = SOURCE / "installer" / "container" / "rootfs" / "etc"
        self.assertRegex((rootfs / "passwd").read_text(), rf"(?m)^kiagateway:x:{uid}:{gid}:")
        self.assertRegex((rootfs / "group").read_text(), rf"(?m)^kiagateway:x:{gid}:")
        self.assertRegex((rootfs / "nsswitch.conf").read_text(), r"(?m)^hosts:\s+files dns$")

    def test_entrypoint_runs_the_mounted_config(self):
        self.assertEqual(json.loads(self.final.one("ENTRYPOINT")), ["/kiagateway"])
        self.assertEqual(json.loads(self.final.one("CMD")), ["run", "-c", "/etc/kiagateway/servers.toml"])
        self.assertEqual(self.final.one("EXPOSE").split(), ["80", "443"])

    def test_dockerignore_keeps_build_trees_out(self):
        # A host build tree copied in would carry a CMakeCache.txt for another source folder.
        patterns = [line.strip().rstrip("/") for line in (SOURCE / ".dockerignore").read_text().splitlines()]
        for pattern in ("build", ".git"):
            self.assertIn(pattern, patterns)

    # The image's run.

    def image_run(self):
        if StaticBinary._run is None:
            StaticBinary._run = self._make_image_run()
        if "skip" in StaticBinary._run:
            self.skipTest(StaticBinary._run["skip"])
        return StaticBinary._run

    def _make_image_run(self):
        if os.geteuid() != 0:
            return {"skip": "running the image's root needs root (chroot)"}
        if not shutil.which("chroot"):
            return {"skip": "chroot is not installed"}
        result = subprocess.run(["file", "-L", BINARY] if shutil.which("file") else ["ldd", BINARY],
                                capture_output=True, text=True, timeout=30)
        static = r"statically linked|static-pie linked|not a dynamic executable"
        if not re.search(static, result.stdout + result.stderr):
            raise AssertionError(f"{BINARY} is not static: it cannot run alone in the image's empty root")
        folder = tempfile.mkdtemp(prefix="kg-image-")
        try:
            root = os.path.join(folder, "root")
            os.mkdir(root)
            os.chmod(folder, 0o755)
            lay_out_image(pathlib.Path(root), self.stages)
            probe = subprocess.run(["chroot", root, "/kiagateway", "--version"], capture_output=True, text=True,
                                   timeout=30)
            if probe.returncode != 0 and "Operation not permitted" in probe.stderr:
                return {"skip": "chroot is not permitted here: " + probe.stderr.strip()}
            spec = {"root": root, "user": self.final.one("USER"), "config": "/etc/kiagateway/servers.toml",
                    "entrypoint": json.loads(self.final.one("ENTRYPOINT")), "cmd": json.loads(self.final.one("CMD")),
                    "container": namespaces_work()}
            if not spec["container"]:
                seen = run_image(spec)
            else:
                child = subprocess.run(["unshare", "--net", sys.executable, os.path.abspath(__file__), "--run-image",
                                        json.dumps(spec)], capture_output=True, text=True, timeout=90)
                if child.returncode != 0 or not child.stdout.strip():
                    raise AssertionError("the run in a network namespace failed:\n" + child.stdout + child.stderr)
                seen = json.loads(child.stdout)
            seen["container"] = spec["container"]
            return seen
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def seen(self, key):
        run = self.image_run()
        if "error" in run:
            self.fail(run["error"] + "\n" + run.get("log", ""))
        if key not in run:
            self.fail(f"the run stopped before '{key}':\n{json.dumps(run, indent=1)}")
        return run[key]

    def test_image_validates_the_mounted_config(self):
        status, output = self.seen("validate")
        self.assertEqual(status, 0, output)

    def test_image_runs_as_its_user(self):
        self.assertTrue(self.seen("ready"), self.image_run().get("log"))
        self.assertEqual(f"{self.seen('uid')}:{self.seen('gid')}", self.final.one("USER"))
        if self.image_run()["container"]:
            self.assertEqual(self.seen("nspid")[-1], "1", "the gateway is PID 1 of its PID namespace")

    def test_image_routes_by_a_name_from_etc_hosts(self):
        self.assertEqual(self.seen("web"), "backend saw web.example", self.image_run().get("log"))

    def test_image_routes_by_a_name_from_dns(self):
        if not self.image_run()["container"]:
            self.skipTest("no network namespace here: the DNS server would need this host's port 53")
        self.assertEqual(self.seen("api"), "backend saw api.example", self.image_run().get("log"))

    def test_image_routes_tls_by_sni_untouched(self):
        self.assertEqual(self.seen("tls"), "tls backend: ClientHello intact", self.image_run().get("log"))

    def test_image_listens_on_80_and_443_in_a_container(self):
        if not self.image_run()["container"]:
            self.skipTest("no network namespace here: ports 80 and 443 are not ours to take")
        status, stderr = self.seen("privileged_ports")
        self.assertNotEqual(status, 0, "the non-root user bound port 80 without the runtime's sysctl")
        self.assertIn("Permission denied", stderr)
        self.assertEqual(self.seen("listeners"),
                         {"http": ["0.0.0.0:80", "[::]:80"], "tls": ["0.0.0.0:443", "[::]:443"]})

    def test_image_reloads_on_hup_and_stops_on_term(self):
        self.assertTrue(self.seen("reloaded"), self.image_run().get("log"))
        self.assertEqual(self.seen("new"), "backend saw new.example")
        self.assertEqual(self.seen("stop_status"), 0, self.image_run().get("log"))
        self.assertLess(self.seen("stop_seconds"), 5)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-image"]:
        print(json.dumps(run_image(json.loads(sys.argv[2]))))
    else:
        unittest.main()
