"""macOS packaging, checked on any OS: the launchd plist parses, has the keys a daemon needs, and its
ProgramArguments are a command line the built binary accepts (run for real on loopback)."""

import pathlib
import plistlib
import signal
import subprocess
import tempfile
import time
import unittest

from paths import BINARY, SOURCE

PLIST = SOURCE / "installer" / "macos" / "com.kiagateway.kiagateway.plist"


class LaunchdPlist(unittest.TestCase):
    def setUp(self):
        with open(PLIST, "rb") as handle:
            self.plist = plistlib.load(handle)

    def test_daemon_keys(self):
        self.assertEqual(self.plist["Label"], "com.kiagateway.kiagateway")
        self.assertIs(self.plist["RunAtLoad"], True)
        self.assertEqual(self.plist["KeepAlive"], {"SuccessfulExit": False})
        self.assertGreaterEqual(self.plist["SoftResourceLimits"]["NumberOfFiles"], 10000)
        self.assertEqual(self.plist["HardResourceLimits"]["NumberOfFiles"],
                         self.plist["SoftResourceLimits"]["NumberOfFiles"])
        self.assertGreater(self.plist["ExitTimeOut"], 30, "launchd must not kill a 30 s drain")
        for key in ("StandardOutPath", "StandardErrorPath"):
            self.assertTrue(self.plist[key].startswith("/usr/local/var/log/kiagateway/"))

    def test_program_arguments_run_the_gateway(self):
        program, *args = self.plist["ProgramArguments"]
        self.assertEqual(program, "/usr/local/bin/kiagateway")
        self.assertEqual(args[:2], ["run", "-c"])
        # The same arguments, with the config path pointed at a loopback test config: the daemon
        # must start (in the foreground, as launchd needs) and stop cleanly on SIGTERM.
        with tempfile.TemporaryDirectory() as folder:
            config = pathlib.Path(folder) / "servers.toml"
            config.write_text('[gateway]\nhttp_listen = ["127.0.0.1:0"]\nhttps_listen = []\n'
                              '[http_backends]\n"a.example" = "127.0.0.1:9"\n')
            argv = [BINARY, *args[:-1], str(config)]
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 10
                ready = False
                while time.monotonic() < deadline and not ready:
                    line = proc.stderr.readline()
                    ready = "ready:" in line
                    if not line:
                        break
                self.assertTrue(ready, "the gateway did not start with the plist's arguments")
                self.assertIsNone(proc.poll(), "the daemon must stay in the foreground")
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=10), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()


if __name__ == "__main__":
    unittest.main()
