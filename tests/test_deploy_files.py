"""The deployment files: the nightly soak workflow, the Kubernetes manifests and the Dockerfile
refer to Makefile targets, files, options and ports that exist, and agree with each other.

What only a cluster checks (`kubectl apply --dry-run=client` asks an API server) is left to one;
where kubectl is installed, it also reads every manifest here, offline (`label --local`)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
WORKFLOW = ROOT / ".github" / "workflows" / "nightly-soak.yml"
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
MASTER_PORT, WEB_PORT = 5557, 8089
NAMESPACE = "simfleet"
MASTER_SERVICE = "simfleet-master"
# A rule line: targets, then one colon (not `:=` or `::`).
_RULE = re.compile(r"([A-Za-z0-9_./$()-]+(?:[ \t]+[A-Za-z0-9_./$()-]+)*)[ \t]*:(?![:=])(.*)")
_OPTION = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")

# Every option of `locust` with simfleet's (the run's, the gates' and the soak's), as its help
# prints them; in a child process, since importing Locust patches the process with gevent.
_OPTIONS_SCRIPT = """
import re, locust
from locust.argument_parser import get_parser
from simfleet.locust.run import install
from simfleet.locust.soak_plan import add_soak_options
install(locust.events)
locust.events.init_command_line_parser.add_listener(add_soak_options)
print(" ".join(sorted(set(re.findall(r"--[a-z0-9][a-z0-9-]*", get_parser().format_help())))))
"""


@pytest.fixture(scope="module")
def locust_options() -> frozenset[str]:
    done = subprocess.run([sys.executable, "-c", _OPTIONS_SCRIPT], capture_output=True,
                          text=True, timeout=60, check=True, cwd=ROOT)  # fmt: skip
    return frozenset(done.stdout.split())


def test_the_option_list_is_locust_s_and_simfleet_s(locust_options: frozenset[str]) -> None:
    assert {"--master", "--worker", "--master-host", "--headless", "--fleet-dir",
            "--soak-hold", "--gate-non-terminal"} <= locust_options  # fmt: skip
    assert "--no-such-option" not in locust_options


# --- the Makefile --------------------------------------------------------------------------


def make_rules(text: str) -> dict[str, tuple[str, str]]:
    """target -> (prerequisites, recipe), continuation lines joined: a Makefile simply read."""
    rules: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith("\t"):
            for name in names:
                prerequisites, recipe = rules[name]
                rules[name] = (prerequisites, " ".join(f"{recipe} {line}".split()))
            continue
        names = []
        if (rule := _RULE.fullmatch(line)) is not None and not line.startswith("#"):
            names = rule.group(1).split()
            for name in names:
                rules.setdefault(name, (rule.group(2).strip(), ""))
    return rules


def make_defaults(text: str) -> dict[str, str]:
    """VAR -> its value, for `VAR ?= value` lines."""
    return dict(re.findall(r"(?m)^([A-Z_]+)[ \t]*\?=[ \t]*(.*?)[ \t]*$", text))


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        pytest.param("a: b c\n\techo 1 \\\n\t  two\n\techo 3\n",
                     {"a": ("b c", "echo 1 two echo 3")}, id="continuation"),
        pytest.param("X := 1\nY ?= $(X)\n", {}, id="assignments-are-not-rules"),
        pytest.param("$(STAMP): p.toml\n\ttouch $(STAMP)\n",
                     {"$(STAMP)": ("p.toml", "touch $(STAMP)")}, id="variable-target"),
        pytest.param(".PHONY: a b\n# c: d\n", {".PHONY": ("a b", "")}, id="phony-and-comment"),
    ],
)  # fmt: skip
def test_the_makefile_reader(text: str, rules: Mapping[str, tuple[str, str]]) -> None:
    assert make_rules(text) == rules


@pytest.fixture(scope="module")
def makefile() -> str:
    return MAKEFILE.read_text()


def test_make_soak_runs_the_soak_with_gates(makefile: str, locust_options: frozenset[str]) -> None:
    rules = make_rules(makefile)
    assert "soak" in rules[".PHONY"][0].split()
    recipe = rules["soak"][1]
    words = shlex.split(recipe.replace("$(BIN)/", ""))
    assert "locust" in words
    assert (ROOT / words[words.index("-f") + 1]) == ROOT / "locustfiles" / "soak.py"
    assert (ROOT / "locustfiles" / "soak.py").is_file()
    assert "--headless" in words
    assert any(word.startswith("--gate-") for word in words)  # the gates decide the status
    assert "$(SOAK_HOLD)" in words  # overridable: SOAK_HOLD=2h make soak
    assert make_defaults(makefile)["SOAK_HOLD"] == "30m"
    assert set(_OPTION.findall(recipe)) - {"--no-print-directory"} <= locust_options


# --- the workflow --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def _steps(workflow: Mapping[Any, Any]) -> list[Mapping[str, Any]]:
    [job] = workflow["jobs"].values()
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def test_the_workflow_runs_nightly_and_on_demand(workflow: Mapping[Any, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict)
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    [schedule] = triggers["schedule"]
    fields = schedule["cron"].split()
    assert len(fields) == 5
    assert fields[2:] == ["*", "*", "*"]  # every day
    assert workflow["permissions"] == {"contents": "read"}


def test_the_workflow_sets_up_python_and_runs_make_targets_that_exist(
    workflow: Mapping[Any, Any], makefile: str
) -> None:
    steps = _steps(workflow)
    [setup] = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == "3.11"  # a string: YAML reads 3.10 as 3.1
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", s["uses"]) for s in steps if "uses" in s)
    runs = [s["run"] for s in steps if "run" in s]
    targets = [t for run in runs for t in re.findall(r"\bmake\s+([a-z][\w-]*)", run)]
    assert targets == ["soak"]
    rules = make_rules(makefile)
    assert set(targets) <= set(rules)
    [job] = workflow["jobs"].values()
    # The hold (30 minutes by default) with its set-up, ramp and drain must fit.
    assert 45 <= job["timeout-minutes"] <= 120


def test_the_workflow_uploads_what_make_soak_writes_whatever_happened(
    workflow: Mapping[Any, Any], makefile: str
) -> None:
    steps = _steps(workflow)
    [upload] = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()"
    assert steps.index(upload) == len(steps) - 1  # after the soak
    path = upload["with"]["path"].rstrip("/")
    recipe = make_rules(makefile)["soak"][1]
    for option in ("--html", "--csv", "--json-file"):
        written = re.search(rf"{option}[ =](\S+)", recipe)
        assert written is not None, option
        assert written.group(1).startswith(f"{path}/"), option
    [soak] = [s for s in steps if "make soak" in s.get("run", "")]
    # The on-demand input reaches the hold through the environment, not the script's text.
    assert "${{" not in soak["run"]
    assert "inputs.hold" in soak["env"]["SOAK_HOLD"]


# --- the Dockerfile ------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    return [
        (word.upper(), rest.strip())
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
        for word, _, rest in [line.strip().partition(" ")]
    ]


def _workdir() -> PurePosixPath:
    [workdir] = [rest for word, rest in _dockerfile() if word == "WORKDIR"]
    return PurePosixPath(workdir)


def test_the_image_holds_the_package_and_the_locustfiles() -> None:
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    copied = [rest.split()[0] for word, rest in instructions if word == "COPY"]
    assert {"certs_tool", "simfleet", "locustfiles", "pyproject.toml"} <= set(copied)
    assert all((ROOT / source).exists() for source in copied)
    assert ("ENTRYPOINT", '["locust"]') in instructions
    exposed = {int(p) for word, rest in instructions if word == "EXPOSE" for p in rest.split()}
    assert exposed == {MASTER_PORT, WEB_PORT}
    assert any(word == "USER" and rest != "root" for word, rest in instructions)


# --- the Kubernetes manifests --------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return documents


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for document in _manifests():
        key = (document["kind"], document["metadata"]["name"])
        assert key not in objects, f"{key} twice"
        objects[key] = document
    return objects


def _pod(manifests: Mapping[tuple[str, str], Any], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = manifests[(kind, name)]["spec"]["template"]
    return spec


def _container(pod: Mapping[str, Any]) -> dict[str, Any]:
    [container] = pod["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _options(args: Sequence[str]) -> dict[str, str]:
    """--name=value and --name value (and -f value) -> {"--name": value}; flags -> ""."""
    options: dict[str, str] = {}
    index = 0
    while index < len(args):
        name, equals, value = args[index].partition("=")
        if not equals and index + 1 < len(args) and not args[index + 1].startswith("-"):
            value = args[index + 1]
            index += 1
        options[name] = value
        index += 1
    return options


def _in_repository(path: str) -> Path:
    """A path inside the image as a path in the repository (the image copies it under
    WORKDIR)."""
    relative = PurePosixPath(path).relative_to(_workdir())
    return ROOT / relative


def _mounts(pod: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], bool]]:
    """mount path -> (its volume, read-only)."""
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    return {
        mount["mountPath"]: (volumes[mount["name"]], bool(mount.get("readOnly")))
        for mount in _container(pod)["volumeMounts"]
    }


def _conf(manifests: Mapping[tuple[str, str], Any]) -> dict[str, str]:
    text = manifests[("ConfigMap", "simfleet-locust-conf")]["data"]["locust.conf"]
    pairs = [line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_manifests_are_a_namespace_a_master_and_workers(
    manifests: Mapping[tuple[str, str], Any], tmp_path: Path
) -> None:
    assert Counter(kind for kind, _ in manifests) == {
        "Namespace": 1, "ConfigMap": 1, "PersistentVolumeClaim": 2, "Service": 1, "Job": 1,
        "Deployment": 1,
    }  # fmt: skip
    assert _manifests()[0]["kind"] == "Namespace"  # first: `kubectl apply -f` goes in file order
    for (kind, name), document in manifests.items():
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
        if kind == "Namespace":
            assert name == NAMESPACE
        else:
            assert document["metadata"]["namespace"] == NAMESPACE, name
    expected = {_kubectl_name(document) for document in manifests.values()}
    if shutil.which("kubectl") is not None:
        # Offline: no API server is asked, whatever kubeconfig the machine has.
        done = subprocess.run(
            ["kubectl", "label", "--local", "-f", str(K8S), "simfleet.dev/checked=yes",
             "-o", "name"],
            capture_output=True, text=True, timeout=60, check=True,
            env={**os.environ, "KUBECONFIG": str(tmp_path / "no-cluster")},
        )  # fmt: skip
        assert set(done.stdout.split()) == expected


def _kubectl_name(document: Mapping[str, Any]) -> str:
    group, _, _ = document["apiVersion"].rpartition("/")
    kind = document["kind"].lower()
    resource = f"{kind}.{group}" if group else kind
    return f"{resource}/{document['metadata']['name']}"


def test_the_master_runs_the_conf_s_locustfile_and_serves_5557_and_8089(
    manifests: Mapping[tuple[str, str], Any], locust_options: frozenset[str]
) -> None:
    job = manifests[("Job", "simfleet-master")]
    assert job["spec"]["backoffLimit"] == 0  # one run: a failed gate is not retried
    pod = _pod(manifests, "Job", "simfleet-master")
    assert pod["spec"]["restartPolicy"] == "Never"
    container = _container(pod)
    assert container["command"] == ["locust"]
    options = _options(container["args"])
    assert "--master" in options
    assert int(options["--master-bind-port"]) == MASTER_PORT
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"master": MASTER_PORT, "web": WEB_PORT}
    conf_path = PurePosixPath(options["--config"])
    configmap, read_only = _mounts(pod)[str(conf_path.parent)]
    assert read_only
    assert configmap["configMap"]["name"] == "simfleet-locust-conf"
    assert conf_path.name in manifests[("ConfigMap", "simfleet-locust-conf")]["data"]
    conf = _conf(manifests)
    assert _in_repository(conf["locustfile"]).is_file()
    assert {f"--{key}" for key in conf} <= locust_options
    assert set(options) <= locust_options
    assert conf["headless"] == "true"
    assert (
        int(conf["expect-workers"])
        == manifests[("Deployment", "simfleet-worker")]["spec"]["replicas"]
    )
    assert any(key.startswith("gate-") for key in conf)


def test_the_workers_reach_the_master_through_its_service(
    manifests: Mapping[tuple[str, str], Any], locust_options: frozenset[str]
) -> None:
    service = manifests[("Service", MASTER_SERVICE)]
    master_pod = _pod(manifests, "Job", "simfleet-master")
    master_ports = {p["name"]: p["containerPort"] for p in _container(master_pod)["ports"]}
    assert {p["port"] for p in service["spec"]["ports"]} == {MASTER_PORT, WEB_PORT}
    for port in service["spec"]["ports"]:
        assert master_ports[port["targetPort"]] == port["port"]
    selector = service["spec"]["selector"].items()
    assert selector <= master_pod["metadata"]["labels"].items()
    deployment = manifests[("Deployment", "simfleet-worker")]
    worker_pod = _pod(manifests, "Deployment", "simfleet-worker")
    assert not selector <= worker_pod["metadata"]["labels"].items()  # the service is the master
    assert deployment["spec"]["selector"]["matchLabels"].items() <= (
        worker_pod["metadata"]["labels"].items()
    )
    container = _container(worker_pod)
    assert container["command"] == ["locust"]
    assert container["image"] == _container(master_pod)["image"]
    options = _options(container["args"])
    assert "--worker" in options
    assert options["--master-host"] == MASTER_SERVICE
    assert int(options["--master-port"]) == MASTER_PORT
    assert options["-f"] == _conf(manifests)["locustfile"]  # the master's locustfile
    assert _in_repository(options["-f"]).is_file()
    assert set(options) - {"-f"} <= locust_options


def test_every_process_mounts_the_one_fleet_read_only(
    manifests: Mapping[tuple[str, str], Any],
) -> None:
    claims = {name for kind, name in manifests if kind == "PersistentVolumeClaim"}
    conf = _conf(manifests)
    master_mounts = _mounts(_pod(manifests, "Job", "simfleet-master"))
    worker_pod = _pod(manifests, "Deployment", "simfleet-worker")
    worker_dir = _options(_container(worker_pod)["args"])["--fleet-dir"]
    for mounts, fleet_dir in (
        (master_mounts, conf["fleet-dir"]),
        (_mounts(worker_pod), worker_dir),
    ):
        volume, read_only = mounts[fleet_dir]
        assert read_only
        assert volume["persistentVolumeClaim"]["claimName"] == "simfleet-fleet"
    for pod in (_pod(manifests, "Job", "simfleet-master"), worker_pod):
        for volume in pod["spec"]["volumes"]:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
    assert PurePosixPath(conf["ca-file"]).is_relative_to(conf["fleet-dir"])
    # The reports outlive the master's pod: they go to a volume of their own.
    reports = PurePosixPath(conf["html"]).parent
    volume, read_only = master_mounts[str(reports)]
    assert not read_only
    assert volume["persistentVolumeClaim"]["claimName"] == "simfleet-reports"
    assert PurePosixPath(conf["csv"]).parent == reports
