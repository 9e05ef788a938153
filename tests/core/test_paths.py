"""Names joined onto a configured root stay inside it: local paths, file:// and object storage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from upath import UPath

from airflow_mlops.core.errors import ConfigError, PathEscapeError
from airflow_mlops.core.paths import (
    refuse_traversal,
    require_under,
    resolve_under,
    template_root,
)

ESCAPES = {
    "../etc/passwd": "'..' climbs above the root",
    "ds=2026-01-02/../../../etc": "'..' climbs above the root",
    "/etc/passwd": "it is absolute",
    "s3://other-bucket/key": "it is absolute",
    "C:/Windows": "it is absolute",
    "%2e%2e/etc": "segment '%2e%2e' hides '..'",
    "%2E%2E/etc": "segment '%2E%2E' hides '..'",
    "%252e%252e/etc": "segment '%252e%252e' hides '..'",
    "..%2fetc": "segment '..%2fetc' hides '..' or a separator",
    "\uff0e\uff0e/etc": "hides '..'",  # fullwidth dots fold to '..'
    "..\\..\\etc": "it holds a backslash",
    "name\x00.csv": "it holds a control character",
    ".": "it names the root itself",
    "a/..": "it names the root itself",
    "": "it names the root itself",
}


@pytest.fixture(params=["local", "file-uri", "path", "s3", "upath-memory"])
def root(request, tmp_path):
    """One configured root of each kind; the local ones exist."""
    folder = tmp_path / "root"
    folder.mkdir()
    return {
        "local": str(folder),
        "file-uri": f"file://{folder}",
        "path": folder,
        "s3": "s3://bucket/prefix/",
        "upath-memory": UPath("memory://bucket/prefix"),
    }[request.param]


@pytest.mark.parametrize(("relative", "reason"), ESCAPES.items())
def test_escapes_are_refused_naming_root_and_path(root, relative, reason):
    with pytest.raises(PathEscapeError, match=re.escape(reason)) as caught:
        resolve_under(root, relative, what="quarantine copy")
    message = str(caught.value)
    assert message.startswith(f"quarantine copy {relative!r} would leave {root}: ")
    assert isinstance(caught.value, ConfigError)


@pytest.mark.parametrize(("relative", "expected"), [
    ("customers.csv", "customers.csv"),
    ("validation/dag/manual__2026-01-02T00:00:00+00:00/validate",
     "validation/dag/manual__2026-01-02T00:00:00+00:00/validate"),
    ("a/./b//c.csv", "a/b/c.csv"),
    ("a/tmp/../c.csv", "a/c.csv"),
    ("report%20v2.html", "report%20v2.html"),
    ("a..b.csv", "a..b.csv"),
])
def test_names_inside_the_root_are_joined_and_normalised(root, relative, expected):
    joined = resolve_under(root, relative)
    if isinstance(root, str):
        assert joined == f"{root.rstrip('/')}/{expected}"
    else:
        assert type(joined) is type(root)
        assert joined == root.joinpath(*expected.split("/"))


def test_object_storage_path_keeps_its_connection(tmp_path):
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath("s3://aws_default@lake/quarantine")
    assert str(resolve_under(root, "ds=1/x.csv")) == "s3://aws_default@lake/quarantine/ds=1/x.csv"
    with pytest.raises(PathEscapeError, match=r"would leave s3://aws_default@lake/quarantine"):
        resolve_under(root, "../x.csv")


def test_a_symbolic_link_out_of_a_local_root_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "customers.csv").symlink_to(outside / "passwd")
    (root / "sub").symlink_to(outside, target_is_directory=True)

    for name in ("customers.csv", "sub/x.csv"):
        with pytest.raises(PathEscapeError, match=f"a symbolic link leads to {outside}"):
            resolve_under(root, name)
        with pytest.raises(PathEscapeError, match="symbolic link"):
            resolve_under(f"file://{root}", name)


def test_a_link_that_stays_inside_is_fine(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)

    assert resolve_under(tmp_path, "alias/x.csv") == tmp_path / "alias" / "x.csv"


def test_require_under_checks_a_location_built_from_a_root(tmp_path):
    base = "s3://lake/results/"
    assert require_under(base, "s3://lake/results/validation/d/r/t") == \
        "s3://lake/results/validation/d/r/t"
    with pytest.raises(PathEscapeError, match="'..' climbs above the root"):
        require_under(base, "s3://lake/results/validation/d/../../../secrets/t")
    with pytest.raises(PathEscapeError, match=r"'s3://lake/resultsX/t' is not inside "):
        require_under(base, "s3://lake/resultsX/t")


@pytest.mark.parametrize("location", [
    "/quarantine/../../etc", "s3://lake/q/%2e%2e/x", "file:///q/..", "/q/a\\..\\b",
])
def test_refuse_traversal_refuses_dot_dot_segments(location):
    with pytest.raises(PathEscapeError, match=rf"quarantine_to {re.escape(repr(location))}: "):
        refuse_traversal(location, what="quarantine_to")


@pytest.mark.parametrize("location", ["/quarantine/2026-01-02", "s3://lake/q/a..b/x.csv",
                                      "file:///q/ds=2026-01-02"])
def test_refuse_traversal_passes_plain_locations(location):
    assert refuse_traversal(location) == location


def test_nothing_is_created_by_resolving(tmp_path):
    resolve_under(tmp_path / "root", "a/b/c.csv")
    with pytest.raises(PathEscapeError):
        resolve_under(tmp_path / "root", "../c.csv")
    assert list(tmp_path.iterdir()) == []
    assert isinstance(resolve_under(tmp_path, "x"), Path)


@pytest.mark.parametrize("template, root", [
    ("/data/churn/ds={{ ds }}/part.csv", "/data/churn"),
    ("/data/churn/train_{{ ds_nodash }}.csv", "/data/churn"),
    ("/data/churn/train.csv", "/data/churn"),
    ("s3://conn@bucket/churn/{% if x %}a{% endif %}/part.parquet", "s3://conn@bucket/churn"),
    ("file:///data/{# note #}x.csv", "file:///data"),
    ("data/{{ ds }}.csv", "data"),
])
def test_template_root_is_the_folder_before_the_first_jinja_tag(template, root):
    assert template_root(template) == root


@pytest.mark.parametrize("template", ["/{{ ds }}.csv", "s3://{{ bucket }}/x.csv",
                                      "file:///{{ ds }}.csv", "{{ ds }}.csv", "train.csv"])
def test_template_root_is_none_where_it_would_allow_everything(template):
    assert template_root(template) is None
