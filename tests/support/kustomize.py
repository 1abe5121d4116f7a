"""Render a kustomization to its objects, offline.

``kubectl kustomize`` when ``kubectl`` is on the machine (it is in the project's machine
image); otherwise :func:`render_lite`, a small kustomize of the features ``deploy/k8s``
uses (resources, configMapGenerator with files/envs/literals and ``behavior: merge``,
strategic-merge patches by kind and name, images, namespace, labels). The lite renderer
leaves out the ConfigMaps' hash suffixes; ``strip_hashes`` removes them from a kubectl
rendering so the two can be compared (``tests/unit/test_k8s_manifests.py`` does).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
GENERATED_SUFFIX = re.compile(r"^(?P<name>[a-z0-9.-]+)-[a-z0-9]{10}$")


def render(path: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return render_lite(path)
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def render_lite(path: Path) -> list[Obj]:
    k = yaml.safe_load((path / "kustomization.yaml").read_text())
    objs: list[Obj] = []
    for entry in k.get("resources", []):
        target = (path / entry).resolve()
        if target.is_dir():
            objs += render_lite(target)
        else:
            objs += [d for d in yaml.safe_load_all(target.read_text()) if d]
    for gen in k.get("configMapGenerator", []):
        _generate(path, gen, objs)
    for patch in k.get("patches", []):
        for doc in yaml.safe_load_all((path / patch["path"]).read_text()):
            _merge(_find(objs, doc["kind"], doc["metadata"]["name"]), doc)
    for image in k.get("images", []):
        _set_image(objs, image)
    for obj in objs:
        meta = obj.setdefault("metadata", {})
        if "namespace" in k and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = k["namespace"]
        for group in k.get("labels", []):
            meta.setdefault("labels", {}).update(group["pairs"])
    return objs


def strip_hashes(objs: list[Obj], names: set[str]) -> list[Obj]:
    """``shaobao-settings-2kgt2db9m5`` → ``shaobao-settings`` wherever it occurs."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and (m := GENERATED_SUFFIX.match(value)):
            return m["name"] if m["name"] in names else value
        return value

    return [walk(o) for o in objs]


def pod_specs(obj: Obj) -> list[Obj]:
    """The pod spec of a workload (Deployment, Job, ...), or nothing."""
    template = obj.get("spec", {}).get("template", {})
    return [template["spec"]] if "spec" in template else []


def containers(obj: Obj) -> list[Obj]:
    return [
        c for spec in pod_specs(obj) for c in spec.get("initContainers", []) + spec["containers"]
    ]


def _generate(root: Path, gen: Obj, objs: list[Obj]) -> None:
    data: dict[str, str] = {}
    for entry in gen.get("files", []):
        key, _, rel = entry.rpartition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = (root / rel).read_text()
    for env_file in gen.get("envs", []):
        data |= read_env_file(root / env_file)
    for literal in gen.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    if gen.get("behavior") == "merge":
        _find(objs, "ConfigMap", gen["name"])["data"].update(data)
        return
    meta = {"name": gen["name"]}
    objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})


def read_env_file(path: Path) -> dict[str, str]:
    """A kustomize ``envs`` file: ``KEY=VALUE`` lines, ``#`` comments, values verbatim."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


def _find(objs: list[Obj], kind: str, name: str) -> Obj:
    for obj in objs:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name} to patch")


def _merge(target: Obj, patch: Obj) -> None:
    """Strategic merge as far as deploy/k8s needs it: maps merge, named lists merge by
    ``name``, other lists and scalars are replaced."""
    for key, value in patch.items():
        old = target.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value)
        elif isinstance(value, list) and isinstance(old, list) and _named(value + old):
            by_name = {item["name"]: item for item in old}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    old.append(item)
        else:
            target[key] = value


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _set_image(objs: list[Obj], image: Obj) -> None:
    for obj in objs:
        for c in containers(obj):
            name, _, tag = c["image"].partition(":")
            if name == image["name"]:
                c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
