"""CLI tests: run the built kiagateway binary and check stdout, stderr and exit codes.

ctest sets KIAGATEWAY (the binary) and KG_SOURCE_DIR (the project root).
"""

import csv
import json
import os
import pathlib
import re
import subprocess
import tempfile
import unittest

BINARY = os.environ.get("KIAGATEWAY", "kiagateway")
# The MinGW build runs the Windows binary under wine: ctest passes the emulator's command ("|"-separated).
COMMAND = [*[part for part in os.environ.get("KG_EMULATOR", "").split("|") if part], BINARY]
SOURCE = pathlib.Path(os.environ.get("KG_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
EXAMPLES = SOURCE / "examples"
DATA = SOURCE / "tests" / "data"
CONFIGS = DATA / "configs"
DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")


def run(*args, timeout=30):
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def write_config(text):
    handle = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    handle.write(text)
    handle.close()
    return handle.name


class ValidateExamples(unittest.TestCase):
    def test_every_example_is_valid(self):
        examples = sorted(EXAMPLES.glob("*.toml"))
        self.assertGreaterEqual(len(examples), 4)
        for example in examples:
            with self.subTest(example=example.name):
                result = run("validate", "-c", example)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(f"{example}: valid", result.stdout)
                self.assertNotIn("error:", result.stderr)

    def test_summary_counts_routes_and_listeners(self):
        result = run("validate", "-c", EXAMPLES / "servers.toml")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("http:  4 routes (2 exact, 1 wildcard, fallback \"*\"); listening on 0.0.0.0:80, [::]:80",
                      result.stdout)
        self.assertIn("https: 3 routes (2 exact, 1 wildcard); listening on 0.0.0.0:443, [::]:443", result.stdout)

    def test_shadowed_entry_is_a_warning_not_an_error(self):
        path = EXAMPLES / "windows-iis.toml"
        result = run("validate", "-c", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, rf"{re.escape(str(path))}:\d+:\d+: warning: \[backends\] "
                                        r"\"intranet.corp.example\" is shadowed for https")

    def test_default_config_is_servers_toml_in_the_working_directory(self):
        if BINARY.lower().endswith(".exe"):
            # Windows reads the config the MSI installs, under the ProgramData known folder.
            result = subprocess.run([*COMMAND, "validate"], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 1)
            self.assertRegex(result.stderr, r"^[A-Z]:\\ProgramData\\kiagateway\\servers\.toml: error: cannot read "
                                             r"the config: no such file")
            return
        with tempfile.TemporaryDirectory() as folder:
            result = subprocess.run([*COMMAND, "validate"], cwd=folder, capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 1)
            self.assertIn("servers.toml: error: cannot read the config: no such file", result.stderr)
            (pathlib.Path(folder) / "servers.toml").write_text('[backends]\n"a.example" = "127.0.0.1:80"\n')
            result = subprocess.run([*COMMAND, "validate"], cwd=folder, capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)


class ValidateBroken(unittest.TestCase):
    def check(self, name, expected):
        """Runs validate on a broken file; `expected` is a list of (line, col, message part)."""
        path = CONFIGS / name
        result = run("validate", "-c", path)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")
        lines = [line for line in result.stderr.splitlines() if ": error: " in line]
        self.assertEqual(len(lines), len(expected), result.stderr)
        for line, (want_line, want_col, part) in zip(lines, expected):
            match = DIAGNOSTIC.match(line)
            self.assertIsNotNone(match, f"not file:line:col: error: ... -> {line!r}")
            self.assertEqual(match["file"], str(path))
            self.assertEqual((int(match["line"]), int(match["col"])), (want_line, want_col), line)
            self.assertIn(part, match["msg"])
        self.assertIn(f"{path}: invalid: {len(expected)} error", result.stderr)

    def test_bad_toml(self):
        self.check("bad_toml.toml", [(2, 17, "invalid TOML")])

    def test_bad_key(self):
        self.check("bad_key.toml", [
            (2, 1, "route key \"exa mple.com\" is not a valid host name"),
            (3, 1, "'*' is allowed only as a whole first label"),
        ])

    def test_bad_address(self):
        self.check("bad_address.toml", [
            (2, 17, "a port is required"),
            (3, 17, "'300.0.0.1' is not a valid IPv4 address"),
            (4, 17, "an IPv6 address must be in brackets: write \"[::1]:443\""),
            (5, 35, "port 70000 is out of range (1-65535)"),
        ])

    def test_duplicate_after_normalisation(self):
        self.check("duplicate_normalised.toml", [
            (3, 1, "\"Example.COM.\" names the same host as \"example.com\" (line 2)"),
        ])

    def test_unknown_key_and_table_with_suggestions(self):
        self.check("unknown_key.toml", [
            (2, 1, "unknown key 'idle_timout' in [gateway]; did you mean 'idle_timeout'?"),
            (4, 1, "unknown table [http_backend]; did you mean [http_backends]?"),
        ])

    def test_missing_file(self):
        result = run("validate", "-c", CONFIGS / "does-not-exist.toml")
        self.assertEqual(result.returncode, 1)
        self.assertIn("does-not-exist.toml: error: cannot read the config: no such file", result.stderr)


class ValidateJson(unittest.TestCase):
    def test_valid_config(self):
        result = run("validate", "-c", EXAMPLES / "servers.toml", "--format", "json")
        self.assertEqual(result.returncode, 0)
        report = json.loads(result.stdout)
        self.assertTrue(report["valid"])
        self.assertEqual(report["errors"], [])
        self.assertEqual(report["summary"]["http"], {"routes": 4, "exact": 2, "wildcard": 1, "fallback": True})
        self.assertEqual(report["summary"]["listeners"]["https"], ["0.0.0.0:443", "[::]:443"])

    def test_invalid_config_lists_every_error(self):
        for name in ["bad_toml.toml", "bad_key.toml", "bad_address.toml", "duplicate_normalised.toml",
                     "unknown_key.toml"]:
            with self.subTest(config=name):
                result = run("validate", "-c", CONFIGS / name, "--format", "json")
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stderr, "")
                report = json.loads(result.stdout)
                self.assertFalse(report["valid"])
                self.assertIsNone(report["summary"])
                self.assertGreaterEqual(len(report["errors"]), 1)
                for error in report["errors"]:
                    self.assertEqual(error["file"], str(CONFIGS / name))
                    self.assertGreater(error["line"], 0)
                    self.assertGreater(error["column"], 0)
                    self.assertTrue(error["message"])

    def test_output_parses_with_json_tool(self):
        result = run("validate", "-c", CONFIGS / "bad_address.toml", "--format", "json")
        tool = subprocess.run(["python3", "-m", "json.tool"], input=result.stdout, capture_output=True, text=True)
        self.assertEqual(tool.returncode, 0, tool.stderr)

    def test_warnings_are_reported(self):
        report = json.loads(run("validate", "-c", EXAMPLES / "windows-iis.toml", "--format", "json").stdout)
        self.assertTrue(report["valid"])
        self.assertEqual(len(report["warnings"]), 1)
        self.assertIn("shadowed", report["warnings"][0]["message"])


class DryRun(unittest.TestCase):
    CONFIG = EXAMPLES / "servers.toml"

    def route(self, *args):
        return run("dry-run-route", "-c", self.CONFIG, *args)

    def test_host_exact_wildcard_fallback(self):
        result = self.route("--host", "Example.COM.:80", "--host", "www.example.com", "--host", "other.org")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("http name=example.com rule=example.com backends=127.0.0.1:8080", lines[0])
        self.assertIn("name=www.example.com rule=*.example.com backends=127.0.0.1:8081", lines[1])
        self.assertIn("name=other.org rule=* backends=127.0.0.1:8099", lines[2])

    def test_sni_and_failover_list(self):
        result = self.route("--sni", "api.example.com")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("tls name=api.example.com rule=api.example.com backends=127.0.0.1:8445,[::1]:8445",
                      result.stdout)

    def test_no_tls_route_says_what_the_client_gets(self):
        result = self.route("--sni", "unknown.org")
        self.assertEqual(result.returncode, 0)
        self.assertIn("no route -> TLS alert unrecognized_name", result.stdout)

    def test_queries_keep_their_order_when_mixed(self):
        result = self.route("--sni", "example.com", "--host", "example.com", "--sni", "x.example.com")
        lines = result.stdout.splitlines()
        self.assertEqual([line.split(":")[0] for line in lines],
                         ["--sni example.com", "--host example.com", "--sni x.example.com"])
        self.assertIn("backends=127.0.0.1:8443", lines[0])
        self.assertIn("backends=127.0.0.1:8080", lines[1])
        self.assertIn("backends=127.0.0.1:8444", lines[2])

    def test_expect_match_and_mismatch(self):
        self.assertEqual(self.route("--host", "example.com", "--expect", "127.0.0.1:8080").returncode, 0)
        self.assertEqual(self.route("--sni", "api.example.com", "--expect", "127.0.0.1:8445,[::1]:8445").returncode, 0)
        mismatch = self.route("--host", "example.com", "--expect", "127.0.0.1:9999")
        self.assertEqual(mismatch.returncode, 1)
        self.assertIn("MISMATCH: expected 127.0.0.1:9999", mismatch.stdout)
        # "none" asserts that a name is not routed.
        self.assertEqual(self.route("--sni", "unknown.org", "--expect", "none").returncode, 0)
        self.assertEqual(self.route("--sni", "example.com", "--expect", "none").returncode, 1)

    def test_expect_per_query(self):
        ok = self.route("--host", "example.com", "--sni", "example.com",
                        "--expect", "127.0.0.1:8080", "--expect", "127.0.0.1:8443")
        self.assertEqual(ok.returncode, 0, ok.stdout)
        swapped = self.route("--host", "example.com", "--sni", "example.com",
                             "--expect", "127.0.0.1:8443", "--expect", "127.0.0.1:8080")
        self.assertEqual(swapped.returncode, 1)
        self.assertEqual(swapped.stdout.count("MISMATCH"), 2)
        wrong_count = self.route("--host", "a.example", "--host", "b.example", "--host", "c.example",
                                 "--expect", "x:1", "--expect", "y:2")
        self.assertEqual(wrong_count.returncode, 2)
        self.assertIn("2 --expect values for 3 queries", wrong_count.stderr)

    def test_json(self):
        result = self.route("--host", "www.example.com", "--sni", "nothing.org", "--format", "json",
                            "--expect", "127.0.0.1:8081", "--expect", "none")
        self.assertEqual(result.returncode, 0, result.stdout)
        report = json.loads(result.stdout)
        self.assertTrue(report["ok"])
        first, second = report["results"]
        self.assertEqual(first["query"], {"kind": "host", "value": "www.example.com"})
        self.assertEqual(first["rule"], "*.example.com")
        self.assertEqual(first["backends"], ["127.0.0.1:8081"])
        self.assertTrue(first["expect_met"])
        self.assertIsNone(second["rule"])
        self.assertEqual(second["outcome"], "no_route")

    def test_invalid_http_request_reports_the_answer(self):
        with tempfile.TemporaryDirectory() as folder:
            head = pathlib.Path(folder) / "dup.http"
            head.write_bytes(b"GET / HTTP/1.1\r\nHost: example.com\r\nHost: other.org\r\n\r\n")
            result = self.route("--http-request", head)
            self.assertEqual(result.returncode, 0)
            self.assertIn("http invalid (", result.stdout)
            self.assertIn("-> HTTP 400", result.stdout)
            partial = pathlib.Path(folder) / "partial.http"
            partial.write_bytes(b"GET / HTTP/1.1\r\nHost: example.com\r\n")
            result = self.route("--http-request", partial)
            self.assertEqual(result.returncode, 1)
            self.assertIn("incomplete request head", result.stdout)

    def test_invalid_config_routes_nothing(self):
        result = run("dry-run-route", "-c", CONFIGS / "bad_key.toml", "--host", "example.com")
        self.assertEqual(result.returncode, 1)
        self.assertIn("bad_key.toml:2:1: error:", result.stderr)
        self.assertEqual(result.stdout, "")


class DryRunFixtures(unittest.TestCase):
    """Every captured ClientHello and request head routes to the backend its manifest names."""

    def test_every_capture_routes(self):
        with open(DATA / "fixtures.tsv", newline="") as manifest:
            rows = list(csv.DictReader(manifest, delimiter="\t"))
        self.assertGreaterEqual(len(rows), 8)
        for row in rows:
            with self.subTest(capture=row["file"]):
                flag = "--tls-client-hello" if row["protocol"] == "tls" else "--http-request"
                expected = "none" if row["backend"] == "-" else row["backend"]
                result = run("dry-run-route", "-c", DATA / "routes.toml", flag, DATA / row["file"],
                             "--expect", expected, "--format", "json")
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                answer = json.loads(result.stdout)["results"][0]
                self.assertEqual(answer["name"], None if row["name"] == "-" else row["name"])
                self.assertEqual(answer["alpn"], [] if row["alpn"] == "-" else row["alpn"].split(","))

    def test_all_captures_in_one_call(self):
        with open(DATA / "fixtures.tsv", newline="") as manifest:
            rows = list(csv.DictReader(manifest, delimiter="\t"))
        args = []
        for row in rows:
            args += ["--tls-client-hello" if row["protocol"] == "tls" else "--http-request", DATA / row["file"]]
        result = run("dry-run-route", "-c", DATA / "routes.toml", *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout.splitlines()), len(rows))

    def test_truncated_client_hello_is_an_error(self):
        whole = (DATA / "tls" / "chromium.bin").read_bytes()
        with tempfile.TemporaryDirectory() as folder:
            cut = pathlib.Path(folder) / "cut.bin"
            cut.write_bytes(whole[: len(whole) // 2])
            result = run("dry-run-route", "-c", DATA / "routes.toml", "--tls-client-hello", cut)
            self.assertEqual(result.returncode, 1)
            self.assertIn("incomplete ClientHello", result.stdout)


class Usage(unittest.TestCase):
    def test_version(self):
        result = run("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout.strip(), r"^kiagateway \d+\.\d+\.\d+$")

    def test_help_lists_the_commands(self):
        result = run("--help")
        self.assertEqual(result.returncode, 0)
        for word in ["run", "validate", "dry-run-route", "--version", "servers.toml"]:
            self.assertIn(word, result.stdout)
        result = run("dry-run-route", "--help")
        self.assertEqual(result.returncode, 0)
        for word in ["--host", "--sni", "--http-request", "--tls-client-hello", "--expect", "--format"]:
            self.assertIn(word, result.stdout)

    def test_original_form_runs_the_named_file(self):
        # `kiagateway FILE` is the original's `run -c FILE`: a missing file is a config error, not usage.
        result = run("no-such-config.toml")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no-such-config.toml: error: cannot read the config: no such file", result.stderr)
        result = run("run", "-c", CONFIGS / "bad_key.toml")
        self.assertEqual(result.returncode, 1)
        self.assertIn("bad_key.toml:2:1: error:", result.stderr)
        self.assertIn("invalid config; not starting", result.stderr)

    def test_usage_errors_exit_2(self):
        for args in (["validate", "--format", "xml"], ["validate", "--bogus"], ["run", "--http-listen", "nowhere"],
                     ["dry-run-route", "-c", EXAMPLES / "servers.toml"],
                     ["dry-run-route", "--tls-client-hello", "/no/such/capture.bin"]):
            with self.subTest(args=args):
                result = run(*args)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertTrue(result.stderr.strip())


if __name__ == "__main__":
    unittest.main()
