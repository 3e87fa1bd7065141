"""Backends for the integration tests: servers that run inside the test process.

All of them listen on 127.0.0.1 (or ::1) on an ephemeral port and run on one
asyncio event loop in a background thread (`LOOP`), so a thousand open
connections cost no threads. Every wait is bounded.

- `HttpBackend`: answers every request with a body naming itself, with
  Content-Length; keeps the connection open (keep-alive) unless the request
  says `Connection: close` or is HTTP/1.0. Counts open connections.
- `HttpBackend(tls=...)`: the same, behind TLS (python `ssl`), with a
  certificate made by `make_certificate` (openssl req -x509).
- `RecorderBackend`: stores every byte each connection sends, answers nothing.
- `BulkBackend`: reads until EOF, keeps the SHA-256 and length of what it got,
  then sends its own random payload and closes (the half-close test).
- `Blackhole`: a listening socket with backlog 0 that never accepts and whose
  one queue slot is filled, so further SYNs are dropped and connect() hangs.
- `dead_port()`: a port with nothing listening (connect is refused).
"""

import asyncio
import hashlib
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time


class BackendLoop:
    """One asyncio event loop in a daemon thread; backends register servers on it."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="backend-loop", daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine, timeout=10):
        """Runs a coroutine on the loop and waits (bounded) for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


_LOOP = None
_LOOP_LOCK = threading.Lock()


def backend_loop():
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = BackendLoop()
        return _LOOP


def wait_until(predicate, timeout, interval=0.01):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class _Server:
    """Base: an asyncio server on 127.0.0.1 (or `host`), port chosen by the kernel."""

    def __init__(self, host="127.0.0.1", tls=None):
        self.host = host
        self.tls = tls
        self.loop = backend_loop()
        self.lock = threading.Lock()
        self.open_connections = 0
        self.total_connections = 0
        self.writers = set()
        self.server = self.loop.call(self._start())
        self.port = self.server.sockets[0].getsockname()[1]

    async def _start(self):
        return await asyncio.start_server(self._handle, self.host, 0, ssl=self.tls, backlog=2048,
                                          limit=1 << 20, ssl_handshake_timeout=10 if self.tls else None)

    @property
    def address(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def _handle(self, reader, writer):
        with self.lock:
            self.open_connections += 1
            self.total_connections += 1
        self.writers.add(writer)
        try:
            await self.serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            with self.lock:
                self.open_connections -= 1
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2)
            except Exception:  # noqa: BLE001 - a peer that resets is fine here
                pass

    async def serve(self, reader, writer):
        raise NotImplementedError

    async def _close(self):
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        try:
            await asyncio.wait_for(self.server.wait_closed(), 2)
        except Exception:  # noqa: BLE001
            pass

    def close(self):
        try:
            self.loop.call(self._close(), timeout=5)
        except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
            pass


def parse_head(head):
    """Returns (request line, {lower-case name: value}) of an HTTP head (bytes)."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class HttpBackend(_Server):
    """HTTP/1.1 server answering `name` as the body of every response."""

    def __init__(self, name, host="127.0.0.1", tls=None):
        self.name = name
        self.requests = []  # every request head received, in order (bytes)
        super().__init__(host=host, tls=tls)

    async def serve(self, reader, writer):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            request_line, headers = parse_head(head)
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(length)
            with self.lock:
                self.requests.append(head)
            close = headers.get("connection", "").lower() == "close" or request_line.endswith("HTTP/1.0")
            body = self.name.encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n"
                         % (len(body), b"close" if close else b"keep-alive") + body)
            await writer.drain()
            if close:
                return


class RecorderBackend(_Server):
    """Stores every byte each connection sends; never answers. `connections` is a list of bytearrays."""

    def __init__(self, host="127.0.0.1"):
        self.connections = []
        super().__init__(host=host)

    async def serve(self, reader, writer):
        received = bytearray()
        with self.lock:
            self.connections.append(received)
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            with self.lock:
                received.extend(chunk)

    def received(self, index=0):
        with self.lock:
            return bytes(self.connections[index]) if index < len(self.connections) else None

    def wait_for_bytes(self, count, timeout, index=0):
        """Waits until connection `index` got at least `count` bytes; returns what it got (or None)."""
        wait_until(lambda: (self.received(index) or b"").__len__() >= count, timeout)
        return self.received(index)


class BulkBackend(_Server):
    """Reads until EOF (SHA-256 and length of everything), then sends `payload` and closes."""

    def __init__(self, payload, host="127.0.0.1"):
        self.payload = payload
        self.results = []  # (bytes received, sha256 hex) per connection, once its EOF arrived
        super().__init__(host=host)

    async def serve(self, reader, writer):
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = await reader.read(1 << 18)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        with self.lock:
            self.results.append((total, digest.hexdigest()))
        view = memoryview(self.payload)
        for offset in range(0, len(view), 1 << 20):
            writer.write(view[offset:offset + (1 << 20)])
            await writer.drain()
        # Falls through to close(): the client sees EOF after the payload.


class Blackhole:
    """A port where connect() hangs: listening, backlog 0, never accepts, queue already full.

    Linux drops SYNs to a listener whose accept queue is full, so the connecting side
    keeps retransmitting its SYN until its own timeout. `works` says whether a probe
    connect really hung (check it before relying on the blackhole).
    """

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.fillers = []
        self.works = False
        # Fill the accept queue: connect until one attempt no longer completes.
        for _ in range(8):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.3)
            try:
                probe.connect(("127.0.0.1", self.port))
            except (socket.timeout, TimeoutError):
                probe.close()
                self.works = True
                break
            except OSError:
                probe.close()
                break
            self.fillers.append(probe)
        if self.works:
            # Check once more that a fresh connect hangs rather than completing or failing.
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", self.port))
                self.works = False
            except (socket.timeout, TimeoutError):
                pass
            except OSError:
                self.works = False
            finally:
                probe.close()

    def close(self):
        for sock in self.fillers:
            sock.close()
        self.listener.close()


def dead_port(host="127.0.0.1"):
    """A port on `host` with nothing listening: bind, read the port, close."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def make_certificate(folder, common_name, dns_names):
    """A self-signed certificate and key (openssl req -x509) for `dns_names`; returns (cert path, key path)."""
    folder = pathlib.Path(folder)
    cert = folder / f"{common_name}.crt"
    key = folder / f"{common_name}.key"
    san = ",".join(f"DNS:{name}" for name in dns_names)
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={san}"],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl req failed: {result.stderr}")
    return cert, key


def server_tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.set_alpn_protocols(["http/1.1"])
    return context


_CERT_DIR = None


def shared_certificate(dns_names=("tls-a.test", "tls-b.test", "secure.test")):
    """One certificate for the whole test run (made on first use); returns (cert, key)."""
    global _CERT_DIR
    if _CERT_DIR is None:
        _CERT_DIR = tempfile.mkdtemp(prefix="kg-cert-")
        import atexit
        atexit.register(shutil.rmtree, _CERT_DIR, True)
    cert = pathlib.Path(_CERT_DIR) / "gateway-test.crt"
    key = pathlib.Path(_CERT_DIR) / "gateway-test.key"
    if not cert.exists():
        make_certificate(_CERT_DIR, "gateway-test", dns_names)
    return cert, key


def random_bytes(count):
    return os.urandom(count)


__all__ = ["BackendLoop", "backend_loop", "wait_until", "HttpBackend", "RecorderBackend", "BulkBackend",
           "Blackhole", "dead_port", "make_certificate", "server_tls_context", "shared_certificate",
           "random_bytes", "parse_head"]
