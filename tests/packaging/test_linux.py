"""Linux packaging: the systemd unit (checked by systemd-analyze against the built binary), its
hardening, and the sysusers/tmpfiles entries applied to a scratch root.
"""

import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

from paths import BINARY, BUILD, SOURCE

LINUX = SOURCE / "installer" / "linux"


def directives(unit_text):
    """All `Key=value` lines of a unit, as (key, value) pairs in order."""
    pairs = []
    for line in unit_text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            pairs.append((key, value))
    return pairs


class SystemdUnit(unittest.TestCase):
    def setUp(self):
        self.text = (LINUX / "kiagateway.service").read_text()
        self.pairs = directives(self.text)
        self.values = {}
        for key, value in self.pairs:
            self.values.setdefault(key, []).append(value)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_analyze_verify(self):
        with tempfile.TemporaryDirectory() as folder:
            unit = pathlib.Path(folder) / "kiagateway.service"
            unit.write_text(self.text.replace("/usr/bin/kiagateway", BINARY))
            env = dict(os.environ, MANPATH=str(SOURCE / "docs" / "man"))
            result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                                    env=env, timeout=60)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertEqual(result.stderr.strip(), "", "systemd-analyze printed warnings")

    def test_notify_and_reload_that_validates_first(self):
        self.assertEqual(self.values["Type"], ["notify"])
        self.assertEqual(self.values["ExecStart"], ["/usr/bin/kiagateway run -c /etc/kiagateway/servers.toml"])
        self.assertEqual(self.values["ExecReload"], ["/usr/bin/kiagateway validate -c /etc/kiagateway/servers.toml",
                                                     "/bin/kill -HUP $MAINPID"])
        self.assertEqual(self.values["Restart"], ["on-failure"])

    def test_hardening(self):
        for key, value in [("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
                           ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"), ("NoNewPrivileges", "yes"),
                           ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("User", "kiagateway")]:
            with self.subTest(directive=key):
                self.assertEqual(self.values.get(key), [value])
        self.assertGreaterEqual(int(self.values["LimitNOFILE"][0]), 100000)

    def test_stop_timeout_covers_the_default_drain(self):
        # systemd must not SIGKILL while connections drain (drain_timeout defaults to 30s).
        self.assertGreater(int(self.values["TimeoutStopSec"][0].rstrip("s")), 30)

    def test_the_commands_in_the_unit_are_real(self):
        # The unit's ExecStartPre/ExecReload run `validate`, and ExecStart `run`: both must parse.
        for command in ("run", "validate"):
            with self.subTest(command=command):
                result = subprocess.run([BINARY, command, "--help"], capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 0)
                self.assertIn("-c,--config", result.stdout)


class SysusersTmpfiles(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-sysusers"), "systemd-sysusers is not installed")
    def test_sysusers_creates_the_user_in_a_scratch_root(self):
        with tempfile.TemporaryDirectory() as root:
            (pathlib.Path(root) / "etc").mkdir()
            result = subprocess.run(["systemd-sysusers", f"--root={root}", str(LINUX / "kiagateway.sysusers")],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            passwd = (pathlib.Path(root) / "etc" / "passwd").read_text()
            self.assertRegex(passwd, r"(?m)^kiagateway:x:\d+:\d+:kiagateway TCP domain router:/nonexistent:"
                                     r"/usr/sbin/nologin$")

    @unittest.skipUnless(shutil.which("systemd-tmpfiles"), "systemd-tmpfiles is not installed")
    def test_tmpfiles_creates_the_config_folder_in_a_scratch_root(self):
        with tempfile.TemporaryDirectory() as root:
            result = subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}",
                                     str(LINUX / "kiagateway.tmpfiles")], capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertTrue((pathlib.Path(root) / "etc" / "kiagateway").is_dir())


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb"), "cpack or dpkg-deb is not installed")
class Deb(unittest.TestCase):
    """The .deb CPack makes from this build: its control data, its files, and an unpacked install."""

    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp(prefix="kg-deb-")
        result = subprocess.run(["cpack", "-G", "DEB", "-B", cls.out], cwd=BUILD, capture_output=True, text=True,
                                timeout=600)
        if result.returncode != 0:
            raise AssertionError("cpack failed:\n" + result.stdout + result.stderr)
        debs = list(pathlib.Path(cls.out).glob("kiagateway_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one .deb in {cls.out}, found {debs}")
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def dpkg_deb(self, *args):
        result = subprocess.run(["dpkg-deb", *args, str(self.deb)], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def field(self, name):
        result = subprocess.run(["dpkg-deb", "-f", str(self.deb), name], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def test_control(self):
        version = subprocess.run([BINARY, "--version"], capture_output=True, text=True).stdout.split()[1]
        self.assertEqual(self.field("Package"), "kiagateway")
        self.assertEqual(self.field("Version"), version)
        self.assertEqual(self.field("Section"), "net")
        self.assertIn("libc6", self.field("Depends"))
        info = self.dpkg_deb("-I")
        for script in ("conffiles", "postinst", "prerm", "postrm"):
            self.assertIn(script, info)

    def test_config_is_a_conffile(self):
        with tempfile.TemporaryDirectory() as control:
            subprocess.run(["dpkg-deb", "-e", str(self.deb), control], check=True, timeout=60)
            self.assertEqual(pathlib.Path(control, "conffiles").read_text().split(), ["/etc/kiagateway/servers.toml"])

    def test_files(self):
        listing = self.dpkg_deb("-c")
        for path in ("./usr/bin/kiagateway", "./usr/lib/systemd/system/kiagateway.service",
                     "./usr/lib/sysusers.d/kiagateway.conf", "./usr/lib/tmpfiles.d/kiagateway.conf",
                     "./usr/share/man/man1/kiagateway.1", "./etc/kiagateway/servers.toml"):
            with self.subTest(path=path):
                self.assertRegex(listing, rf"(?m) {path}$")

    def test_unpacked_install_runs_and_its_config_is_valid(self):
        with tempfile.TemporaryDirectory() as root:
            subprocess.run(["dpkg-deb", "-x", str(self.deb), root], check=True, timeout=60)
            binary = pathlib.Path(root, "usr/bin/kiagateway")
            result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertRegex(result.stdout, r"^kiagateway \d+\.\d+\.\d+")
            config = pathlib.Path(root, "etc/kiagateway/servers.toml")
            result = subprocess.run([str(binary), "validate", "-c", str(config)], capture_output=True, text=True,
                                    timeout=30)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertEqual(pathlib.Path(root, "usr/lib/systemd/system/kiagateway.service").read_text(),
                             (LINUX / "kiagateway.service").read_text())


if __name__ == "__main__":
    unittest.main()
