"""The Kubernetes example: valid YAML, the settings docs/kubernetes.md promises, and a ConfigMap whose
servers.toml the built binary validates.
"""

import pathlib
import subprocess
import tempfile
import unittest

import yaml

from paths import BINARY, SOURCE

MANIFEST = SOURCE / "examples" / "kubernetes" / "kiagateway.yaml"


class KubernetesManifest(unittest.TestCase):
    def setUp(self):
        with open(MANIFEST) as handle:
            documents = list(yaml.safe_load_all(handle))
        self.by_kind = {doc["kind"]: doc for doc in documents}
        self.assertEqual(sorted(self.by_kind), ["ConfigMap", "Deployment", "Service"])

    def test_config_map_holds_a_valid_config(self):
        config = self.by_kind["ConfigMap"]["data"]["servers.toml"]
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "servers.toml"
            path.write_text(config)
            result = subprocess.run([BINARY, "validate", "-c", str(path)], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            route = subprocess.run([BINARY, "dry-run-route", "-c", str(path), "--host", "shop.example.com",
                                    "--expect", "shop.default.svc.cluster.local:80"], capture_output=True, text=True,
                                   timeout=30)
            self.assertEqual(route.returncode, 0, route.stdout + route.stderr)

    def test_deployment_runs_the_mounted_config_unprivileged(self):
        spec = self.by_kind["Deployment"]["spec"]["template"]["spec"]
        container = spec["containers"][0]
        mount = container["volumeMounts"][0]
        self.assertEqual(container["args"], ["run", "-c", mount["mountPath"] + "/servers.toml"])
        self.assertTrue(mount["readOnly"])
        self.assertEqual(spec["volumes"][0]["configMap"]["name"], self.by_kind["ConfigMap"]["metadata"]["name"])
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertFalse(container["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual(container["securityContext"]["capabilities"]["drop"], ["ALL"])
        self.assertGreater(spec["terminationGracePeriodSeconds"], 30, "the default drain is 30 s")

    def test_ports_line_up(self):
        config = self.by_kind["ConfigMap"]["data"]["servers.toml"]
        container = self.by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertIn(f'http_listen = ["0.0.0.0:{ports["http"]}"]', config)
        self.assertIn(f'https_listen = ["0.0.0.0:{ports["https"]}"]', config)
        service = self.by_kind["Service"]["spec"]
        self.assertEqual({p["port"]: p["targetPort"] for p in service["ports"]}, {80: "http", 443: "https"})
        self.assertEqual(service["selector"], self.by_kind["Deployment"]["spec"]["selector"]["matchLabels"])


if __name__ == "__main__":
    unittest.main()
