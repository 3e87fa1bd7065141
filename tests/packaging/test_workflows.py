"""The GitHub Actions workflows in .github/workflows: the presets, scripts and installer files they name
exist, every preset runs in one of them, the release runs only for a tag that matches project(VERSION)
and may write the release; and each file passes the workflow JSON schema (action-validator, run with
npx, which fetches it from the npm registry: only a network failure skips that check).
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

from paths import SOURCE

WORKFLOWS = SOURCE / ".github" / "workflows"
PRESET_LISTS = {"configure": "configurePresets", "build": "buildPresets", "test": "testPresets",
                "package": "packagePresets", "workflow": "workflowPresets"}
# Run by hand (README, "Fuzzing"); every other workflow preset must run in CI or in the release.
NOT_IN_WORKFLOWS = {"fuzz"}

# Pinned: a new validator release may change its schema, and the test must not break on its own.
VALIDATOR = "@action-validator/cli@0.6.0"
# How npm reports that it could not reach the registry: the only failure that skips the schema check.
NETWORK_ERROR = re.compile(r"npm (?:ERR!|error) (?:code (?:ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EAI_FAIL"
                           r"|ETIMEDOUT|ESOCKETTIMEDOUT|ERR_SOCKET_TIMEOUT|ENETUNREACH|EHOSTUNREACH|ENETDOWN"
                           r"|E502|E503|E504)\b|network )")
MINIMAL_WORKFLOW = """\
name: probe
on: push
jobs:
  probe:
    runs-on: ubuntu-24.04
    steps:
      - run: "true"
"""


def load(path):
    with open(path) as handle:
        workflow = yaml.safe_load(handle)
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def all_workflows():
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    return {path.name: load(path) for path in files}


def expand_matrix(script, matrix):
    """The script once per value of the first ${{ matrix.NAME }} in it, recursively."""
    match = re.search(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", script)
    if not match:
        return [script]
    name = match.group(1)
    values = list(matrix.get(name, [])) + [entry[name] for entry in matrix.get("include", []) if name in entry]
    if not values:
        raise AssertionError(f"matrix.{name} has no values")
    scripts = []
    for value in values:
        scripts += expand_matrix(script[:match.start()] + str(value) + script[match.end():], matrix)
    return scripts


def run_scripts(workflow):
    """(job id, script) for every `run:` of the workflow, matrix variables expanded."""
    for job_id, job in workflow["jobs"].items():
        matrix = job.get("strategy", {}).get("matrix", {})
        for step in job.get("steps", []):
            if "run" in step:
                for script in expand_matrix(step["run"], matrix):
                    yield job_id, script


def preset_references(script):
    """(kind, name) for each --preset given to cmake, ctest or cpack in a shell script."""
    script = script.replace("\\\n", " ")
    for tool, args in re.findall(r"\b(cmake|ctest|cpack)\b([^\n;&|()]*)", script):
        words = args.split()
        names = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "--preset"]
        names += [word.split("=", 1)[1] for word in words if word.startswith("--preset=")]
        if tool == "ctest":
            kind = "test"
        elif tool == "cpack":
            kind = "package"
        elif "--workflow" in words:
            kind = "workflow"
        elif "--build" in words:
            kind = "build"
        else:
            kind = "configure"
        for name in names:
            yield kind, name


def needs_of(workflow, job_id):
    """Every job that job_id waits for, directly or not."""
    found, todo = set(), [job_id]
    while todo:
        needs = workflow["jobs"][todo.pop()].get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in found:
                found.add(need)
                todo.append(need)
    return found


def steps_using(workflow, action):
    """(job id, step) for each step whose `uses` is the action, at any version."""
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
            if step.get("uses", "").split("@")[0] == action]


class Workflows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workflows = all_workflows()
        with open(SOURCE / "CMakePresets.json") as handle:
            presets = json.load(handle)
        cls.presets = {kind: {p["name"] for p in presets.get(key, []) if not p.get("hidden")}
                       for kind, key in PRESET_LISTS.items()}

    def test_ci_and_release_exist(self):
        self.assertLessEqual({"ci.yml", "release.yml"}, set(self.workflows))

    def test_named_presets_exist(self):
        for name, workflow in self.workflows.items():
            references = [(job_id, kind, preset) for job_id, script in run_scripts(workflow)
                          for kind, preset in preset_references(script)]
            if name in ("ci.yml", "release.yml"):
                self.assertTrue(references, f"{name} names no preset: is the parsing here still right?")
            for job_id, kind, preset in references:
                with self.subTest(workflow=name, job=job_id, kind=kind, preset=preset):
                    self.assertIn(preset, self.presets[kind], f"no {kind} preset {preset!r} in CMakePresets.json")

    def test_every_workflow_preset_runs(self):
        used = {preset for workflow in self.workflows.values() for _, script in run_scripts(workflow)
                for _, preset in preset_references(script)}
        self.assertEqual(self.presets["workflow"] - NOT_IN_WORKFLOWS - used, set(),
                         "workflow presets that no GitHub workflow runs")

    def test_named_files_exist(self):
        for name, workflow in self.workflows.items():
            for job_id, script in run_scripts(workflow):
                for path in re.findall(r"(?<![\w./$-])((?:scripts|installer)/[\w./+-]*[\w+-])", script):
                    with self.subTest(workflow=name, job=job_id, path=path):
                        self.assertTrue((SOURCE / path).exists(), f"{path} is not in the repository")
                # Run as a command, a script needs its executable bit (Windows has none to check).
                for path in re.findall(r"(?m)(?:^|[;&|(])\s*((?:scripts|installer)/\S+)", script):
                    if os.name == "posix" and (SOURCE / path).exists():
                        with self.subTest(workflow=name, job=job_id, command=path):
                            self.assertTrue(os.access(SOURCE / path, os.X_OK), f"{path} is not executable")

    def test_actions_are_pinned_to_a_release(self):
        for name, workflow in self.workflows.items():
            for job_id, job in workflow["jobs"].items():
                for step in job.get("steps", []):
                    if "uses" in step:
                        with self.subTest(workflow=name, job=job_id, uses=step["uses"]):
                            self.assertRegex(step["uses"], r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$")

    def test_release_runs_on_version_tags_only(self):
        self.assertEqual(self.workflows["release.yml"]["on"], {"push": {"tags": ["v*"]}})

    def test_release_publishes_everything_it_builds(self):
        release = self.workflows["release.yml"]
        publishing = steps_using(release, "softprops/action-gh-release")
        self.assertEqual(len(publishing), 1)
        job_id, step = publishing[0]
        job = release["jobs"][job_id]
        permissions = job.get("permissions", release.get("permissions", {}))
        self.assertEqual(permissions.get("contents"), "write", "the release job must be allowed to write")
        self.assertTrue(step.get("with", {}).get("files"))
        builders = {builder for builder, _ in steps_using(release, "actions/upload-artifact")}
        self.assertTrue(builders)
        self.assertEqual(builders - needs_of(release, job_id), set(), "builds the release does not wait for")

    def test_release_builds_wait_for_the_version_check(self):
        release = self.workflows["release.yml"]
        for job_id in release["jobs"]:
            if job_id != "version":
                with self.subTest(job=job_id):
                    self.assertIn("version", needs_of(release, job_id))

    def test_version_check_compares_the_tag_with_project_version(self):
        check = [step for step in self.workflows["release.yml"]["jobs"]["version"]["steps"]
                 if step.get("id") == "check"]
        self.assertEqual(len(check), 1)
        self.assertEqual(check[0]["shell"], "python3 {0}")
        # Read here another way than the step does, so one mistake cannot hide the other.
        version = re.search(r"^\s*VERSION\s+(\S+)", (SOURCE / "CMakeLists.txt").read_text(), re.M).group(1)
        with tempfile.TemporaryDirectory() as folder:
            script = pathlib.Path(folder) / "check.py"
            script.write_text(check[0]["run"])
            output = pathlib.Path(folder) / "output"
            for tag, accepted in [(f"v{version}", True), (version, False), (f"v{version}.1", False),
                                  ("v0.0.0-other", False)]:
                with self.subTest(tag=tag):
                    output.write_text("")
                    env = dict(os.environ, GITHUB_REF_NAME=tag, GITHUB_OUTPUT=str(output))
                    result = subprocess.run([sys.executable, str(script)], cwd=SOURCE, env=env,
                                            capture_output=True, text=True, timeout=30)
                    self.assertEqual(result.returncode == 0, accepted, result.stdout + result.stderr)
                    self.assertEqual(output.read_text(), f"version={version}\n" if accepted else "")


class WorkflowSchema(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        npx = shutil.which("npx")
        if not npx:
            raise unittest.SkipTest("npx is not installed (Debian packages nodejs and npm): "
                                    "no workflow schema check")
        cls.npx = npx
        cls.scratch = tempfile.TemporaryDirectory()
        build = os.environ.get("KG_BINARY_DIR")
        cache = pathlib.Path(build, "npm-cache") if build else pathlib.Path(cls.scratch.name, "npm-cache")
        # prefer-offline: once cached, the validator runs without asking the registry again. Few
        # retries: without a network, npm's defaults wait over a minute before giving up.
        cls.env = dict(os.environ, npm_config_cache=str(cache), npm_config_prefer_offline="true",
                       npm_config_fetch_retries="1", npm_config_fetch_retry_mintimeout="2000",
                       npm_config_fetch_retry_maxtimeout="5000", npm_config_fetch_timeout="30000",
                       npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
        # The first run fetches the validator.
        cls.probe = cls.validate_text(MINIMAL_WORKFLOW)
        if cls.probe.returncode != 0 and NETWORK_ERROR.search(cls.probe.stderr):
            cls.scratch.cleanup()
            reason = next(line for line in cls.probe.stderr.splitlines() if NETWORK_ERROR.search(line))
            raise unittest.SkipTest(f"cannot fetch {VALIDATOR} from the npm registry: {reason}")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    @classmethod
    def validate(cls, path):
        # From the repository root: the validator resolves `paths:` globs against the working folder.
        return subprocess.run([cls.npx, "--yes", VALIDATOR, str(path)], cwd=SOURCE, env=cls.env,
                              capture_output=True, text=True, timeout=180)

    @classmethod
    def validate_text(cls, text):
        handle, path = tempfile.mkstemp(suffix=".yml", dir=cls.scratch.name)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        return cls.validate(path)

    def test_accepts_a_minimal_workflow(self):
        self.assertEqual(self.probe.returncode, 0, self.probe.stdout + self.probe.stderr)

    def test_rejects_broken_workflows(self):
        # Each a one-line change to the minimal workflow, and what the validator must say about it.
        for broken, expected in [
                (MINIMAL_WORKFLOW.replace("    runs-on: ubuntu-24.04\n", ""), "/jobs/probe/runs-on"),
                (MINIMAL_WORKFLOW.replace("    steps:", "    stepz:"), "'stepz' is not allowed"),
                (MINIMAL_WORKFLOW.replace("on: push", "on:\n  pushh: {}"), "'pushh' is not allowed")]:
            with self.subTest(expected=expected):
                result = self.validate_text(broken)
                self.assertNotEqual(result.returncode, 0, "the validator accepted a broken workflow")
                self.assertIn(expected, result.stdout + result.stderr)

    def test_workflows_match_the_schema(self):
        files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
        self.assertTrue(files)
        for path in files:
            with self.subTest(workflow=path.name):
                result = self.validate(path)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
