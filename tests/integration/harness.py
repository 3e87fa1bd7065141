"""Runs a kiagateway process for the integration tests, and talks to it as a client.

`Gateway` starts the binary, reads its stdout and stderr in background threads
(one line at a time, kept in lists), finds the listening ports in the
`listening for (http|tls) on ADDR` lines, waits (bounded) for `ready:`, and
stops it with SIGTERM (then SIGKILL as a last resort).

`GatewayTest` is the unittest base class: a temp folder, config writing,
backends and gateways that are cleaned up after each test, and the gateway's
logs printed when a test fails.
"""

import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import backends as bk

SOURCE = pathlib.Path(os.environ.get("KG_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
_DEFAULT_BINARY = SOURCE / "build" / "dev" / "kiagateway"
BINARY = os.environ.get("KIAGATEWAY", str(_DEFAULT_BINARY) if _DEFAULT_BINARY.exists() else "kiagateway")
# The MinGW build runs the Windows binary under wine: ctest passes the emulator's command ("|"-separated).
EMULATOR = [part for part in os.environ.get("KG_EMULATOR", "").split("|") if part]
COMMAND = [*EMULATOR, BINARY]
WINDOWS = BINARY.lower().endswith(".exe")
# A Windows console program stops on Ctrl-C; wine delivers SIGINT to it as one. POSIX: SIGTERM.
STOP_SIGNAL = signal.SIGINT if WINDOWS else signal.SIGTERM
DATA = SOURCE / "tests" / "data"
CONFIGS = DATA / "configs"

# The address is an IPv4 literal or a bracketed IPv6 literal with a port (whatever follows, e.g. JSON quoting,
# is not part of it).
LISTENING = re.compile(r"listening for (http|tls) on (\[[0-9A-Fa-f:.%a-z]+\]:\d+|\d+\.\d+\.\d+\.\d+:\d+)")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z (info|warning|error): .+$")
ACCESS_KEYS_JSON = {"time", "id", "client", "listener", "protocol", "name", "rule", "backend", "bytes_up",
                    "bytes_down", "duration_ms", "outcome"}
TLS_ALERT_UNRECOGNIZED_NAME = bytes.fromhex("15030300020270")

START_TIMEOUT = 10.0


# --------------------------------------------------------------------------- config

def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(str(value))  # a TOML basic string for the plain ASCII values used here


def toml_config(gateway=None, http=None, https=None, both=None):
    """A config: [gateway] with test defaults (listeners on 127.0.0.1:0, drain 2s) updated by `gateway`
    (a value of None drops the key), then the route tables given (dicts name -> address or list)."""
    settings = {"http_listen": ["127.0.0.1:0"], "https_listen": ["127.0.0.1:0"], "drain_timeout": "2s"}
    settings.update(gateway or {})
    lines = ["[gateway]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items() if value is not None]
    for table, routes in (("http_backends", http), ("https_backends", https), ("backends", both)):
        if routes is not None:
            lines += ["", f"[{table}]"]
            lines += [f"{json.dumps(name)} = {toml_value(target)}" for name, target in routes.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the process

class Gateway:
    """One kiagateway process. Lines from stdout and stderr are collected as they come."""

    def __init__(self, argv, cwd=None, config_path=None):
        self.argv = [str(arg) for arg in argv]
        self.cwd = cwd
        self.config_path = config_path
        self.stdout = []
        self.stderr = []
        self.cond = threading.Condition()
        self.proc = None
        self.readers = []
        self.http = []  # (host, port) of each http listener, in log order
        self.tls = []
        self.stopped_by_us = False
        self.killed = False

    # -- start / stop

    def start(self):
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            reader = threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            reader.start()
            self.readers.append(reader)
        return self

    def _read(self, stream, lines):
        for raw in iter(stream.readline, b""):
            with self.cond:
                lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits for `ready:`; parses the listeners. Raises AssertionError with the logs on failure."""
        if self.wait_stderr(r"ready:", timeout) is None:
            state = "exited with %s" % self.proc.returncode if self.proc.poll() is not None else "still running"
            raise AssertionError(f"gateway not ready within {timeout}s ({state})\n{self.logs()}")
        for line in self.stderr_snapshot():
            match = LISTENING.search(line)
            if match:
                host, port = split_address(match[2])
                (self.http if match[1] == "http" else self.tls).append((host, port))
        return self

    @property
    def http_port(self):
        assert self.http, "no http listener logged\n" + self.logs()
        return self.http[0][1]

    @property
    def tls_port(self):
        assert self.tls, "no tls listener logged\n" + self.logs()
        return self.tls[0][1]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if WINDOWS and sig == signal.SIGTERM:
            sig = signal.SIGINT
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.stopped_by_us = True
        if self.running():
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        """The exit code, or None if the process is still running after `timeout` seconds."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for reader in self.readers:
            reader.join(timeout=2)
        return code

    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL as a last resort. Returns the exit code."""
        if self.proc is None:
            return None
        if self.running():
            self.stopped_by_us = True
            self.signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.killed = True
                self.proc.kill()
                self.wait_exit(5)
        else:
            self.wait_exit(2)
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        return self.proc.returncode

    # -- logs

    def stderr_snapshot(self):
        with self.cond:
            return list(self.stderr)

    def stdout_snapshot(self):
        with self.cond:
            return list(self.stdout)

    def logs(self):
        with self.cond:
            return ("--- gateway %s\n--- stderr:\n%s\n--- stdout:\n%s" %
                    (" ".join(self.argv), "\n".join(self.stderr[-200:]), "\n".join(self.stdout[-200:])))

    def _wait_lines(self, lines, test, timeout, start=0):
        """Waits until some line at index >= start passes `test`; returns (index, result) or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(start, len(lines)):
                    result = test(lines[index])
                    if result:
                        return index, result
                start = max(start, len(lines))
                remaining = deadline - time.monotonic()
                readers_done = all(not reader.is_alive() for reader in self.readers)
                if remaining <= 0 or (readers_done and self.proc.poll() is not None):
                    return None
                self.cond.wait(min(remaining, 0.1))

    def wait_stderr(self, pattern, timeout, start=0):
        """The first match of regex `pattern` in a stderr line (index >= start), or None."""
        regex = re.compile(pattern)
        found = self._wait_lines(self.stderr, regex.search, timeout, start)
        return found[1] if found else None

    def wait_stderr_index(self, pattern, timeout, start=0):
        regex = re.compile(pattern)
        found = self._wait_lines(self.stderr, regex.search, timeout, start)
        return found[0] if found else None

    # -- access log (stdout by default)

    def access_records(self, lines=None, fmt="text"):
        lines = self.stdout_snapshot() if lines is None else lines
        return [parse_access(line, fmt) for line in lines if line.strip()]

    def wait_access(self, predicate, timeout=5, fmt="text", source="stdout"):
        """The first access record (dict) passing `predicate`, or None after `timeout` seconds."""
        lines = self.stdout if source == "stdout" else self.stderr

        def test(line):
            record = parse_access(line, fmt)
            return record if record is not None and predicate(record) else None

        found = self._wait_lines(lines, test, timeout)
        return found[1] if found else None

    def cpu_seconds(self):
        """User + system CPU time the gateway process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def vm_rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


def parse_access(line, fmt="text"):
    """A text access line as a dict (`time` plus each key=value), or a JSON line; None if not one."""
    if fmt == "json":
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
    parts = line.split(" ")
    if len(parts) < 2 or "=" not in parts[1] or not parts[1].startswith("id="):
        return None
    record = {"time": parts[0]}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        record[key] = value
    return record


def split_address(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


# --------------------------------------------------------------------------- client side

class Response:
    def __init__(self, status, headers, body, raw, eof):
        self.status, self.headers, self.body, self.raw, self.eof = status, headers, body, raw, eof

    def __repr__(self):
        return f"Response({self.status}, {self.headers}, {self.body!r}, eof={self.eof})"


def connect(port, host="127.0.0.1", timeout=5):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def request_bytes(host, path="/", close=True, extra=b""):
    return (b"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kg-integration\r\n%s%s\r\n" %
            (path.encode(), host.encode(), b"Connection: close\r\n" if close else b"", extra))


def read_until_eof(sock, timeout):
    """Reads until EOF. Returns (data, how): how is 'eof', 'reset' or 'timeout'."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), "timeout"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return bytes(data), "timeout"
        except ConnectionResetError:
            return bytes(data), "reset"
        if not chunk:
            return bytes(data), "eof"
        data += chunk


def read_response(sock, timeout=5):
    """Reads one HTTP response (head, then Content-Length bytes); with Connection: close, also waits for EOF.
    Raises AssertionError when no complete response arrives in time."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    eof = False
    while b"\r\n\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no complete response head within {timeout}s; got {bytes(data)!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no complete response head within {timeout}s; got {bytes(data)!r}") from None
        except ConnectionResetError:
            raise AssertionError(f"connection reset before a complete response head; got {bytes(data)!r}") from None
        if not chunk:
            raise AssertionError(f"EOF before a complete response head; got {bytes(data)!r}")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"^HTTP/1\.[01] (\d{3})", lines[0])
    if not match:
        raise AssertionError(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = bytearray(rest)
    length = int(headers.get("content-length", "-1"))
    while length >= 0 and len(body) < length:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"body incomplete within {timeout}s: {len(body)}/{length}")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"EOF in the body: {len(body)}/{length}")
        body += chunk
    if headers.get("connection", "").lower() == "close" or length < 0:
        more, how = read_until_eof(sock, max(0.1, deadline - time.monotonic()))
        if length < 0:
            body += more
        elif more:
            raise AssertionError(f"bytes after the response body: {more!r}")
        eof = how in ("eof", "reset")
    return Response(int(match[1]), headers, bytes(body), head + b"\r\n\r\n" + bytes(body), eof)


def http_get(port, host, path="/", timeout=5, listen_host="127.0.0.1"):
    """A new connection, one request with Connection: close, the response."""
    with connect(port, listen_host, timeout) as sock:
        sock.sendall(request_bytes(host, path))
        return read_response(sock, timeout)


def client_hello(server_name):
    """The first flight (a ClientHello) python's ssl would send for `server_name`."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# --------------------------------------------------------------------------- the test base

class GatewayTest(unittest.TestCase):
    """Base class: temp folder, backends and gateways that are cleaned up, logs shown on failure."""

    def setUp(self):
        folder = tempfile.TemporaryDirectory(prefix="kg-it-")
        self.addCleanup(folder.cleanup)
        self.tmp = pathlib.Path(folder.name)
        self.gateways = []

    # -- config

    def write_config(self, text, name="servers.toml"):
        path = self.tmp / name
        staging = self.tmp / (name + ".new")
        staging.write_text(text)
        os.replace(staging, path)  # atomic: a reload never reads a half-written file
        return path

    # -- processes

    def start_gateway(self, config_text=None, args=(), form="run", config_path=None, cwd=None, ready=True,
                      wrapper=()):
        """Writes the config and starts the gateway (`form` run: run -c FILE ARGS; file: kiagateway FILE;
        plain: kiagateway in `cwd`). Waits for ready unless ready=False. `wrapper` is a command that
        execs the gateway (e.g. prlimit), so the process is still the gateway itself."""
        if config_text is not None:
            config_path = self.write_config(config_text, config_path or "servers.toml")
        if form == "run":
            argv = [*COMMAND, "run", "-c", config_path, *args]
        elif form == "file":
            argv = [*COMMAND, config_path, *args]
        else:
            argv = [*COMMAND, *args]
        gateway = Gateway([*wrapper, *argv], cwd=cwd, config_path=config_path)
        self.gateways.append(gateway)
        gateway.start()
        self.addCleanup(self._stop_gateway, gateway)
        if ready:
            gateway.wait_ready()
        return gateway

    def _stop_gateway(self, gateway):
        exited_alone = gateway.proc.poll()
        expected = getattr(gateway, "expect_exit", False)
        gateway.stop()
        failed = not getattr(getattr(self, "_outcome", None), "success", True)
        if failed:
            sys.stderr.write(f"\n===== logs of the gateway for {self.id()}\n{gateway.logs()}\n=====\n")
        if exited_alone is not None and not expected and not gateway.stopped_by_us:
            raise AssertionError(f"the gateway exited by itself (code {exited_alone}) during the test\n"
                                 + gateway.logs())
        if gateway.killed:
            raise AssertionError("the gateway did not exit within 10 s of SIGTERM; killed\n" + gateway.logs())

    # -- backends

    def http_backend(self, name, host="127.0.0.1"):
        backend = bk.HttpBackend(name, host=host)
        self.addCleanup(backend.close)
        return backend

    def tls_backend(self, name):
        cert, key = bk.shared_certificate()
        backend = bk.HttpBackend(name, tls=bk.server_tls_context(cert, key))
        self.addCleanup(backend.close)
        return backend

    def recorder(self):
        backend = bk.RecorderBackend()
        self.addCleanup(backend.close)
        return backend

    # -- client sockets closed before the gateway stops (cleanups run last-in first-out)

    def client(self, port, host="127.0.0.1", timeout=5):
        sock = connect(port, host, timeout)
        self.addCleanup(sock.close)
        return sock

    def assertAccess(self, gateway, predicate, what, timeout=5, fmt="text", source="stdout"):
        record = gateway.wait_access(predicate, timeout, fmt, source)
        if record is None:
            self.fail(f"no access log record {what} within {timeout}s\n{gateway.logs()}")
        return record
