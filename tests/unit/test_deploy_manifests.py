"""The deployment files run the commands the CLI has, with the settings it reads, and agree
with each other: docker-compose.yml and deploy/k8s show each stage as its own workload, the
extract stripes match the facts topic's partitions (deploy/topics.toml), and exactly one fold
keeps its state on a volume (issue #10, item 2)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from storyline.cli import build_parser
from storyline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s" / "base"
SETTINGS = {f"STORYLINE_{name.upper()}" for name in Settings.model_fields}
# set by the manifests for the container, not read by Settings: the stripe, from the pod
EXTRA_ENV = {"STORYLINE_STRIPE", "STORYLINE_PAGE_PARTITION"}
PAGES = ROOT / "deploy" / "k8s" / "pages"


def partitions_of(topic: str) -> int:
    topics = tomllib.loads((ROOT / "deploy" / "topics.toml").read_text())["topic"]
    return int(next(t["partitions"] for t in topics if t["name"] == topic))


def facts_partitions() -> int:
    return partitions_of("storyline.facts")


def k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / resource).read_text()) if d]
    return docs


def workloads() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_documents()
            if d["kind"] in ("StatefulSet", "Deployment", "Job")}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def parsed(args: list[str]) -> Any:
    # what the CLI makes of the arguments ($(VAR) is Kubernetes' expansion of the pod's env)
    argv = [a.replace("$(STORYLINE_STRIPE)", "0").replace("$(STORYLINE_PAGE_PARTITION)", "0")
            for a in args]
    return build_parser(argv[0]).parse_args(argv)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def storyline_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items()
            if s.get("image", "").startswith("storyline")}


def test_every_command_in_the_manifests_is_one_the_cli_takes() -> None:
    for name, workload in workloads().items():
        args = parsed(container(workload)["args"])
        assert args.command in ("topics", "worker", "serve"), name
    for name, service in storyline_services().items():
        assert parsed(service["command"]).command in ("topics", "worker", "serve"), name


def test_every_storyline_variable_set_is_a_setting() -> None:
    env_file = (K8S / "storyline.env").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in env_file if line and not line.startswith("#")}
    for workload in workloads().values():
        names |= {e["name"] for e in container(workload).get("env", ())}
    names |= set(compose()["x-storyline"]["environment"])
    unknown = {n for n in names if n.startswith("STORYLINE_")} - SETTINGS - EXTRA_ENV
    assert not unknown
    assert "STORYLINE_BOOTSTRAP_SERVERS" in names


def test_kubernetes_runs_one_extract_pod_per_facts_partition_and_one_fold() -> None:
    partitions = facts_partitions()
    found = workloads()
    extract = found["storyline-extract"]
    args = parsed(container(extract)["args"])
    assert (args.stage, args.stripes) == ("extract", partitions)
    assert extract["kind"] == "StatefulSet" and extract["spec"]["replicas"] == partitions
    stripe = next(e for e in container(extract)["env"] if e["name"] == "STORYLINE_STRIPE")
    assert "pod-index" in stripe["valueFrom"]["fieldRef"]["fieldPath"]
    assert "$(STORYLINE_STRIPE)" in container(extract)["args"]

    fold = found["storyline-fold"]
    assert parsed(container(fold)["args"]).stage == "fold"
    assert fold["kind"] == "StatefulSet" and fold["spec"]["replicas"] == 1
    state = {m["name"]: m["mountPath"] for m in container(fold)["volumeMounts"]}
    claims = {c["metadata"]["name"] for c in fold["spec"]["volumeClaimTemplates"]}
    assert state["state"] == "/data" and "state" in claims  # STORYLINE_DATA_DIR
    assert "STORYLINE_DATA_DIR=/data" in (K8S / "storyline.env").read_text()
    stages = [parsed(container(w)["args"]).stage for w in found.values()
              if parsed(container(w)["args"]).command == "worker"]
    assert sorted(stages) == ["extract", "fold"]  # no `worker` running every stage too


@pytest.mark.parametrize("name", ["storyline-extract", "storyline-fold"])
def test_the_probes_ask_the_port_the_stage_listens_on(name: str) -> None:
    stage = container(workloads()[name])
    port = int(next(e["value"] for e in stage["env"]
                    if e["name"] == "STORYLINE_STAGE_METRICS_PORT"))
    declared = {p["name"]: p["containerPort"] for p in stage["ports"]}
    assert declared["operations"] == port
    for probe in ("livenessProbe", "readinessProbe"):
        assert stage[probe]["httpGet"]["port"] == "operations"
        assert stage[probe]["httpGet"]["path"] in ("/livez", "/readyz")


def test_compose_runs_every_stripe_once_and_one_fold_with_the_state_volume() -> None:
    partitions = facts_partitions()
    services = storyline_services()
    stripes: list[int] = []
    folds: list[str] = []
    for name, service in services.items():
        args = parsed(service["command"])
        if args.command != "worker":
            continue
        assert args.stage in ("extract", "fold"), name
        if args.stage == "extract":
            assert args.stripes == partitions
            stripes.extend(args.stripe)
            # its endpoints: the worker's port + 1 + stripe (stage_port), published as such
            for stripe in args.stripe:
                port = Settings().worker_metrics_port + 1 + stripe
                assert any(p.endswith(f":{port}") for p in service["ports"]), name
        else:
            folds.append(name)
            assert any(v.endswith(":/data") for v in service["volumes"])
    assert sorted(stripes) == list(range(partitions))
    assert len(folds) == 1


def overlay_workloads() -> dict[str, dict[str, Any]]:
    """The pages overlay as kustomize builds it: the base's resources and its own, less the
    ones its patches delete (the only kind of patch it has)."""
    kustomization = yaml.safe_load((PAGES / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        if resource == "../base":
            docs += k8s_documents()
        else:
            docs += [d for d in yaml.safe_load_all((PAGES / resource).read_text()) if d]
    deleted = set()
    for patch in kustomization["patches"]:
        body = yaml.safe_load(patch["patch"])
        assert body["$patch"] == "delete"
        deleted.add((body["kind"], body["metadata"]["name"]))
    assert deleted <= {(d["kind"], d["metadata"]["name"]) for d in docs}
    return {d["metadata"]["name"]: d for d in docs
            if d["kind"] in ("StatefulSet", "Deployment", "Job")
            and (d["kind"], d["metadata"]["name"]) not in deleted}


def test_the_pages_overlay_runs_one_assign_pod_and_one_page_pod_per_partition() -> None:
    found = overlay_workloads()
    stages = sorted(parsed(container(w)["args"]).stage for w in found.values()
                    if parsed(container(w)["args"]).command == "worker")
    assert stages == ["assign", "extract", "page"]  # no fold beside them
    page = found["storyline-page"]
    assert page["spec"]["replicas"] == partitions_of("storyline.assignments")
    partition = next(e for e in container(page)["env"]
                     if e["name"] == "STORYLINE_PAGE_PARTITION")
    assert "pod-index" in partition["valueFrom"]["fieldRef"]["fieldPath"]
    assert "$(STORYLINE_PAGE_PARTITION)" in container(page)["args"]
    for name in ("storyline-assign", "storyline-page"):
        workload = found[name]
        assert workload["kind"] == "StatefulSet"
        mounts = {m["name"]: m["mountPath"] for m in container(workload)["volumeMounts"]}
        assert mounts["state"] == "/data"
        port = int(next(e["value"] for e in container(workload)["env"]
                        if e["name"] == "STORYLINE_STAGE_METRICS_PORT"))
        assert {p["containerPort"] for p in container(workload)["ports"]} == {port}
    assert found["storyline-assign"]["spec"]["replicas"] == 1


class _ComposeTags(yaml.SafeLoader):
    """Compose's merge tags (``!reset``, ``!override``) read as their plain values."""


_ComposeTags.add_multi_constructor(
    "!", lambda loader, _tag, node: (loader.construct_sequence(node)
                                     if isinstance(node, yaml.SequenceNode) else None))


def test_the_compose_pages_file_runs_assign_and_every_page_partition_on_its_port() -> None:
    pages = yaml.load((ROOT / "docker-compose.pages.yml").read_text(), Loader=_ComposeTags)
    services = pages["services"]
    assert services["fold"]["profiles"]  # not started by default
    partitions = []
    for name, service in services.items():
        if name in ("fold", "api"):  # not started / the API's environment only
            continue
        assert service["extends"] == {"file": "docker-compose.yml", "service": "fold"}
        args = parsed(service["command"])
        assert args.command == "worker" and args.stage in ("assign", "page"), name
        index = 0 if args.stage == "assign" else 1 + facts_partitions() + args.partition
        port = Settings().worker_metrics_port + index  # stage_port's
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        if args.stage == "page":
            partitions.append(args.partition)
    assert sorted(partitions) == list(range(partitions_of("storyline.assignments")))


def test_the_next_overlay_runs_a_new_version_beside_the_base_on_the_same_articles() -> None:
    """docs/operations.md, "Upgrading the pipeline": topics of its own, the base's articles
    topic, a namespace of its own (a Service selects pods by label in its namespace only)."""
    overlay = ROOT / "deploy" / "k8s" / "next"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    [generator] = kustomization["configMapGenerator"]
    assert generator["name"] == "storyline-env" and generator["behavior"] == "merge"
    literals = dict(line.split("=", 1) for line in generator["literals"])
    assert set(literals) <= SETTINGS
    base_env = dict(line.split("=", 1) for line in (K8S / "storyline.env").read_text()
                    .splitlines() if line and not line.startswith("#"))
    assert literals["STORYLINE_SOURCE_PREFIX"] == base_env["STORYLINE_TOPIC_PREFIX"]
    assert literals["STORYLINE_TOPIC_PREFIX"] != base_env["STORYLINE_TOPIC_PREFIX"]
    beside = Settings(topic_prefix=literals["STORYLINE_TOPIC_PREFIX"],
                      source_prefix=literals["STORYLINE_SOURCE_PREFIX"])
    running = Settings(topic_prefix=base_env["STORYLINE_TOPIC_PREFIX"])
    assert beside.articles == running.articles
    assert beside.story_updates != running.story_updates
    namespace = kustomization["namespace"]
    [declared] = [d for r in kustomization["resources"] if r.endswith(".yaml")
                  for d in yaml.safe_load_all((overlay / r).read_text()) if d]
    assert declared["kind"] == "Namespace" and declared["metadata"]["name"] == namespace
    assert "../base" in kustomization["resources"]


def test_the_page_stage_deployments_tell_status_how_many_page_processes_there_are() -> None:
    """`storyline status` in a pod or container of the page-stage deployments watches the
    assign and page groups only with STORYLINE_PAGE_PROCESSES; without it, the fold's group,
    which nothing commits there: exit 4 ("no worker is consuming") on a healthy deployment,
    where the upgrade procedure waits for `status --wait` to say caught up."""
    partitions = partitions_of("storyline.assignments")
    kustomization = yaml.safe_load((PAGES / "kustomization.yaml").read_text())
    [generator] = kustomization["configMapGenerator"]
    assert generator["name"] == "storyline-env" and generator["behavior"] == "merge"
    literals = dict(line.split("=", 1) for line in generator["literals"])
    assert int(literals["STORYLINE_PAGE_PROCESSES"]) == partitions
    assert overlay_workloads()["storyline-page"]["spec"]["replicas"] == partitions
    pages = yaml.load((ROOT / "docker-compose.pages.yml").read_text(), Loader=_ComposeTags)
    api = pages["services"]["api"]
    assert int(api["environment"]["STORYLINE_PAGE_PROCESSES"]) == partitions
