"""The Windows installer, built by the MinGW build (cmake/package_msi.cmake) and run under wine.

MsiTables reads the package with msiinfo: the service, its account and arguments, the files, the
Event Log source, the config that is installed once, the upgrade rule.

ServiceLifecycle installs it with `wine msiexec` and drives the service the MSI creates, one step
after the other (each depends on the previous): RUNNING and routing a request to a loopback
backend, PARAMCHANGE after an edit of the config, STOP (STOPPED, process gone), a start with a
broken config (STOPPED with the service's exit code, the reason in the Event Log), a higher
version installed over it (one product, the config untouched), and the uninstall (service gone,
config kept).

ctest sets KIAGATEWAY, KG_EMULATOR (cmake/wine-run and the wine prefix), KG_MSI, KG_MSI_STAGE,
KG_VERSION and KG_SERVICE_CONTROL (tests/windows/service_control.cpp, for what wine's sc lacks).
"""

import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))
import backends as bk  # noqa: E402
from harness import http_get  # noqa: E402

SOURCE = pathlib.Path(os.environ.get("KG_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
EMULATOR = [part for part in os.environ.get("KG_EMULATOR", "").split("|") if part]
MSI = pathlib.Path(os.environ.get("KG_MSI", ""))
STAGE = pathlib.Path(os.environ.get("KG_MSI_STAGE", ""))
VERSION = os.environ.get("KG_VERSION", "")
SERVICE_CONTROL = os.environ.get("KG_SERVICE_CONTROL", "")
WXS = SOURCE / "installer" / "windows" / "kiagateway.wxs"
FIXUP = SOURCE / "installer" / "windows" / "wixl-fixup.sh"

SERVICE = "kiagateway"
CONFIG_ARGS = 'run --service -c "[CommonAppDataFolder]kiagateway\\servers.toml"'


def msi_table(path, table):
    """Rows of an MSI table as lists of strings (msiinfo export: 3 header lines, tab-separated)."""
    out = subprocess.run(["msiinfo", "export", str(path), table], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()[3:] if line]


def bumped(version):
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


@unittest.skipUnless(MSI.name and shutil.which("msiinfo"), "needs the MinGW build's MSI and msitools")
class MsiTables(unittest.TestCase):
    def test_service_install(self):
        rows = msi_table(MSI, "ServiceInstall")
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        # ServiceInstall, Name, DisplayName, ServiceType, StartType, ErrorControl, LoadOrderGroup,
        # Dependencies, StartName, Password, Arguments, Component_, Description
        self.assertEqual(row[1], SERVICE)
        self.assertEqual(int(row[3]), 0x10, "SERVICE_WIN32_OWN_PROCESS")
        self.assertEqual(int(row[4]), 2, "SERVICE_AUTO_START")
        self.assertEqual(row[8], "NT AUTHORITY\\LocalService", "least privilege account")
        self.assertEqual(row[10], CONFIG_ARGS)
        self.assertEqual(row[11], "Executable")

    def test_service_control(self):
        rows = msi_table(MSI, "ServiceControl")
        self.assertEqual(len(rows), 1, rows)
        # ServiceControl, Name, Event, Arguments, Wait, Component_
        self.assertEqual(rows[0][1], SERVICE)
        # 1 start on install + 2 stop on install + 32 stop on uninstall + 128 delete on uninstall.
        self.assertEqual(int(rows[0][2]), 163)
        self.assertEqual(rows[0][4], "0", "a port held by IIS must not roll the install back")

    def test_files_and_components(self):
        files = {row[0]: row for row in msi_table(MSI, "File")}
        self.assertEqual(files["kiagateway.exe"][1], "Executable")
        self.assertEqual(files["servers.toml"][1], "Config")
        self.assertEqual(int(files["kiagateway.exe"][3]), (STAGE / "kiagateway.exe").stat().st_size)
        components = {row[0]: row for row in msi_table(MSI, "Component")}
        directories = {row[0]: row for row in msi_table(MSI, "Directory")}
        self.assertEqual(components["Executable"][2], "INSTALLDIR")
        self.assertEqual(directories["INSTALLDIR"][1:], ["ProgramFiles64Folder", "kiagateway"])
        self.assertEqual(components["Config"][2], "CONFIGDIR")
        self.assertEqual(directories["CONFIGDIR"][1:], ["CommonAppDataFolder", "kiagateway"])
        # 16 = permanent (kept on uninstall); 256 = 64-bit. Installed only once.
        self.assertEqual(int(components["Config"][3]) & 16, 16)
        self.assertEqual(int(components["ConfigMarker"][3]) & 16, 16)
        self.assertEqual(components["Config"][4], 'INSTALLCONFIG = "1" AND NOT KG_CONFIG_MARKER')
        for name in ("Executable", "Config", "ConfigMarker", "Documents"):
            self.assertEqual(int(components[name][3]) & 256, 256, f"{name} is not 64-bit")

    def test_event_log_source_and_recovery(self):
        registry = {(row[2].rstrip("\\"), row[3]): row[4] for row in msi_table(MSI, "Registry")}
        source = "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\kiagateway"
        self.assertEqual(registry[(source, "EventMessageFile")], "#%[#kiagateway.exe]", "REG_EXPAND_SZ, the exe")
        self.assertEqual(registry[(source, "TypesSupported")], "#7")
        actions = {row[0]: row for row in msi_table(MSI, "CustomAction")}
        self.assertIn("failure kiagateway reset= 86400 actions= restart/5000/restart/10000/restart/60000",
                      actions["SetServiceRecovery"][3])
        self.assertIn("failureflag kiagateway 1", actions["SetServiceRecoveryOnErrorExit"][3])
        sequence = {row[0]: row for row in msi_table(MSI, "InstallExecuteSequence")}
        self.assertGreater(int(sequence["SetServiceRecovery"][2]), int(sequence["InstallServices"][2]))

    def test_version_and_upgrade(self):
        properties = {row[0]: row[1] for row in msi_table(MSI, "Property")}
        self.assertEqual(properties["ProductVersion"], VERSION)
        self.assertEqual(properties["UpgradeCode"], "{36034751-C0A9-465C-9A3E-A393BC5C0C47}", "must never change")
        self.assertIn("INSTALLCONFIG", properties["SecureCustomProperties"].split(";"))
        self.assertIn(VERSION, MSI.name)
        upgrade = msi_table(MSI, "Upgrade")
        # One row finds older versions (removed), one newer versions (downgrade refused).
        self.assertEqual(sorted(row[6] for row in upgrade), ["WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED"])
        sequence = {row[0] for row in msi_table(MSI, "InstallExecuteSequence")}
        self.assertIn("RemoveExistingProducts", sequence)


@unittest.skipUnless(len(EMULATOR) == 2 and MSI.name and SERVICE_CONTROL, "needs the MinGW build under wine")
class ServiceLifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="kg-msi-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.prefix = pathlib.Path(EMULATOR[1])
        self.env = dict(os.environ, WINEPREFIX=str(self.prefix), WINEDEBUG="-all",
                        WINEDLLOVERRIDES="mscoree,mshtml=")
        self.env.pop("DISPLAY", None)
        self.drive = self.prefix / "drive_c"
        self.config = self.drive / "ProgramData" / "kiagateway" / "servers.toml"
        self.exe = self.drive / "Program Files" / "kiagateway" / "kiagateway.exe"
        self.events = self.tmp / "wine-services.log"
        self.clean_machine()
        self.addCleanup(self.stop_wine)
        self.addCleanup(self.clean_machine)
        self.start_wine()

    # -- wine

    def wine(self, *args, timeout=120, check=False):
        result = subprocess.run([*EMULATOR, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, env=self.env)
        if check and result.returncode != 0:
            self.fail(f"{' '.join(map(str, args))} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def start_wine(self):
        """A fresh wine server whose services (and so the kiagateway service) log the Event Log's
        ReportEventW strings (wine prints them on its eventlog debug channel) to self.events."""
        subprocess.run(["wineserver", "-k"], env=self.env, capture_output=True, timeout=30)
        subprocess.run(["wineserver", "-w"], env=self.env, capture_output=True, timeout=60)
        env = dict(self.env, WINEDEBUG="-all,err+eventlog,warn+eventlog,trace+eventlog")
        subprocess.run(["wineserver", "-p60"], env=env, timeout=30)
        with open(self.events, "wb") as log:
            # Everything this starts outlives it (services.exe and its services): give it a file.
            subprocess.run([EMULATOR[0], EMULATOR[1], "cmd", "/c", "exit"], env=env, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log, timeout=120)

    def stop_wine(self):
        subprocess.run(["wineserver", "-k"], env=self.env, capture_output=True, timeout=30)

    def clean_machine(self):
        """No kiagateway product, service, config or marker: each run starts from the same state."""
        if self.exe.exists() or self.service_query() is not None:
            for msi in (MSI, self.tmp / "upgrade.msi"):
                if msi.exists():
                    self.wine("msiexec", "/x", msi, "/qn", timeout=180)
            self.wine("sc", "stop", SERVICE, timeout=30)
            self.wine("sc", "delete", SERVICE, timeout=30)
        self.wine("reg", "delete", "HKLM\\SOFTWARE\\kiagateway", "/f", timeout=30)
        shutil.rmtree(self.config.parent, ignore_errors=True)

    def event_log(self):
        return self.events.read_text(errors="replace") if self.events.exists() else ""

    def wait_event(self, pattern, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.event_log()):
                return True
            time.sleep(0.2)
        return False

    # -- the service

    def service_query(self):
        """{'state': ..., 'win32_exit': ..., 'service_exit': ..., 'pid': ...}, or None if there is no service."""
        result = self.wine(SERVICE_CONTROL, SERVICE, "query", timeout=30)
        if result.returncode != 0:
            return None
        return dict(part.split("=", 1) for part in result.stdout.split())

    def wait_state(self, state, timeout=30):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.service_query()
            if status is not None and status["state"] == state:
                return status
            time.sleep(0.3)
        self.fail(f"service not {state} within {timeout}s: {status}\nEvent Log:\n{self.event_log()}")

    def gateway_processes(self):
        """Live (not zombie) processes running the installed kiagateway.exe."""
        found = []
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if "kiagateway.exe" in cmdline and "--service" in cmdline and state != "Z":
                found.append(int(entry.name))
        return found

    def route(self, port, host):
        try:
            response = http_get(port, host, timeout=5)
        except (OSError, AssertionError):
            return None
        return response.status, response.body

    def wait_route(self, port, host, expected, timeout=15):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.route(port, host)
            if got == expected:
                return
            time.sleep(0.3)
        self.fail(f"{host} via 127.0.0.1:{port}: {got}, want {expected}\nEvent Log:\n{self.event_log()}")

    def installed_products(self):
        """(DisplayName, DisplayVersion) of every product in the Uninstall key named kiagateway."""
        result = self.wine("reg", "query", "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall", "/s",
                           timeout=60)
        products, current = [], {}
        for line in result.stdout.splitlines():
            if line.startswith("HKEY_"):
                current = {}
                products.append(current)
            match = re.match(r"\s+(DisplayName|DisplayVersion)\s+REG_SZ\s+(.*)$", line)
            if match:
                current[match[1]] = match[2].strip()
        return [(p.get("DisplayName"), p.get("DisplayVersion")) for p in products if p.get("DisplayName") == SERVICE]

    def build_upgrade(self):
        """The same package with a higher version, built the way cmake/package_msi.cmake builds it."""
        out = self.tmp / "upgrade.msi"
        subprocess.run(["wixl", "-a", "x64", "-D", f"Version={bumped(VERSION)}", "-D", "Wixl=1", "-o", str(out),
                        str(WXS)], cwd=STAGE, check=True, capture_output=True, timeout=120)
        subprocess.run([str(FIXUP), str(out)], check=True, capture_output=True, timeout=60)
        return out

    # -- the test

    def test_install_reload_stop_fail_upgrade_uninstall(self):
        backend = bk.HttpBackend("backend-a")
        self.addCleanup(backend.close)
        port = bk.dead_port()
        config_v1 = (f'[gateway]\nhttp_listen = ["127.0.0.1:{port}"]\nhttps_listen = []\naccess_log = "off"\n'
                     f'drain_timeout = "5s"\n\n[http_backends]\n"a.test" = "{backend.address}"\n')
        # An administrator's own config, put in place before installing (INSTALLCONFIG=0 keeps it).
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_v1)

        # Install: RUNNING, automatic, LocalService, the config's path quoted in its arguments.
        self.wine("msiexec", "/i", MSI, "/qn", "INSTALLCONFIG=0", "/l*v", self.tmp / "install.log", check=True,
                  timeout=180)
        self.assertTrue(self.exe.exists(), "kiagateway.exe not in Program Files")
        self.assertEqual(self.config.read_text(), config_v1, "the installer replaced the administrator's config")
        self.wait_state("RUNNING")
        config = self.wine(SERVICE_CONTROL, SERVICE, "config", check=True).stdout
        self.assertIn("start=auto", config)
        self.assertIn("account=NT AUTHORITY\\LocalService", config)
        self.assertIn('run --service -c "C:\\ProgramData\\kiagateway\\servers.toml"', config)
        # Restart on failure (the sc.exe custom actions), error exits included.
        failure = self.wine(SERVICE_CONTROL, SERVICE, "failure")
        if "error 124" in failure.stderr:
            # Wine's SCM has no failure actions (QueryServiceConfig2 answers ERROR_INVALID_LEVEL): check
            # at least that the install ran both sc.exe actions. MsiTables checks their commands.
            raw = (self.tmp / "install.log").read_bytes()
            log = raw.decode("utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8", errors="replace")
            for action in ("SetServiceRecovery", "SetServiceRecoveryOnErrorExit"):
                self.assertRegex(log, rf"Action ended [^\n]*: {action}\. Return value 1\.")
        else:
            self.assertEqual(failure.stdout.split(), ["reset=86400", "actions=restart/5000,restart/10000,restart/60000",
                                                      "on_error_exit=1"], failure.stderr)
        self.wait_route(port, "a.test", (200, b"backend-a"))
        self.assertTrue(self.wait_event(r'ReportEventW L"ready: '), "no 'ready' in the Event Log")

        # PARAMCHANGE after an edit: the new route, no restart.
        pid = self.service_query()["pid"]
        config_v2 = config_v1 + f'"b.test" = "{backend.address}"\n'
        self.config.write_text(config_v2)
        self.assertEqual(self.route(port, "b.test")[0], 502, "b.test routed before the reload")
        self.wine(SERVICE_CONTROL, SERVICE, "paramchange", check=True)
        self.wait_route(port, "b.test", (200, b"backend-a"))
        self.assertEqual(self.service_query()["pid"], pid, "the service restarted instead of reloading")
        self.assertTrue(self.wait_event(r"reload requested"), self.event_log())

        # STOP with a connection open: STOP_PENDING with a wait hint and a checkpoint that moves while
        # it drains (drain_timeout 5s), then STOPPED with exit code 0, the process gone, the port closed.
        self.assertTrue(self.gateway_processes(), "no kiagateway.exe process while RUNNING")
        held = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(held.close)
        held.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")  # keep-alive: the backend keeps it open
        self.assertIn(b"backend-a", held.recv(4096))
        self.wine("sc", "stop", SERVICE, check=True)
        pending = [self.wait_state("STOP_PENDING", timeout=5)]
        time.sleep(2.5)
        pending.append(self.service_query())
        self.assertEqual(pending[1]["state"], "STOP_PENDING", "stopped before drain_timeout with a connection open")
        self.assertGreater(int(pending[0]["wait_hint"]), 0, pending)
        self.assertGreater(int(pending[1]["checkpoint"]), int(pending[0]["checkpoint"]), pending)
        status = self.wait_state("STOPPED")
        self.assertEqual((status["win32_exit"], status["service_exit"]), ("0", "0"), status)
        deadline = time.monotonic() + 10
        while self.gateway_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.gateway_processes(), [], "kiagateway.exe still running after STOPPED")
        self.assertIsNone(self.route(port, "a.test"), "still accepting after STOPPED")

        # A broken config: the start fails, the service says why in the Event Log and its exit code.
        self.config.write_text(config_v2 + "bad = 1\n")
        self.wine("sc", "start", SERVICE)
        status = self.wait_state("STOPPED")
        self.assertEqual((status["win32_exit"], status["service_exit"]), ("1066", "1"),
                         "want ERROR_SERVICE_SPECIFIC_ERROR with kiagateway's exit code 1")
        self.assertTrue(self.wait_event(r'err:eventlog:ReportEventW L".*servers\.toml:\d+:\d+: error: '
                                        r'\[http_backends\] \\"bad\\"'), self.event_log())
        self.assertIn("invalid config; not starting", self.event_log())
        # A port someone else holds: the Event Log names the address and how to find the owner.
        self.config.write_text(config_v2)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the earlier connections' TIME_WAIT
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        self.wine("sc", "start", SERVICE)
        status = self.wait_state("STOPPED")
        self.assertEqual(status["service_exit"], "1", status)
        self.assertTrue(self.wait_event(rf"cannot listen on 127\.0\.0\.1:{port}: .*netstat -ano -p tcp"),
                        self.event_log())
        holder.close()
        self.wine("sc", "start", SERVICE, check=True)
        self.wait_state("RUNNING")
        self.wait_route(port, "b.test", (200, b"backend-a"))

        # A higher version over it: one product, the config untouched, the new service routing.
        upgrade = self.build_upgrade()
        self.wine("msiexec", "/i", upgrade, "/qn", "/l*v", self.tmp / "upgrade.log", check=True, timeout=180)
        self.assertEqual(self.installed_products(), [(SERVICE, bumped(VERSION))])
        self.assertEqual(self.config.read_text(), config_v2, "the upgrade replaced the config")
        self.wait_state("RUNNING")
        self.wait_route(port, "b.test", (200, b"backend-a"))

        # Uninstall: the service and the program are gone, the config stays.
        self.wine("msiexec", "/x", upgrade, "/qn", "/l*v", self.tmp / "uninstall.log", check=True, timeout=180)
        self.assertIsNone(self.service_query(), "the service is still installed")
        self.assertFalse(self.exe.exists(), "kiagateway.exe left in Program Files")
        self.assertEqual(self.installed_products(), [])
        self.assertEqual(self.config.read_text(), config_v2, "the uninstall removed or changed the config")
        self.assertEqual(self.gateway_processes(), [])


if __name__ == "__main__":
    unittest.main()
