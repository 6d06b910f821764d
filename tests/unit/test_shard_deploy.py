"""The Kubernetes recipe in deploy/ is valid against the Kubernetes schema (checked offline:
kubernetes-validate bundles the schemas) and its shard count agrees with itself. Schema-
checked only: no cluster runs it here."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
VERSION = kubernetes_validate.latest_version()


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("*.yaml")), ids=lambda p: p.name)
def test_every_resource_is_valid_against_the_schema(path: Path) -> None:
    docs = _docs(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_the_schema_check_can_fail() -> None:
    (job,) = _docs(DEPLOY / "shards-job.yaml")
    bad = copy.deepcopy(job)
    bad["spec"]["backoffLimitPerIndx"] = 3  # a typo strict validation must catch
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSION, strict=True)


def test_the_indexed_job_and_the_merge_agree_on_n() -> None:
    (job,) = _docs(DEPLOY / "shards-job.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    n = spec["completions"]
    script = spec["template"]["spec"]["containers"][0]["args"][0]
    assert f'--shard "${{JOB_COMPLETION_INDEX}}/{n}"' in script
    assert f"-of-{n}.report.jsonl" in script
    (merge,) = _docs(DEPLOY / "merge-job.yaml")
    args = merge["spec"]["template"]["spec"]["containers"][0]["args"]
    reports = [a for a in args if re.fullmatch(r"/state/shard-\d+-of-\d+\.report\.jsonl", a)]
    assert reports == [f"/state/shard-{k}-of-{n}.report.jsonl" for k in range(n)]
