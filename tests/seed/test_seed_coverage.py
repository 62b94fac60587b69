# test_seed_coverage.py: every test function of the seed has its
# counterpart here
#
# README.md maps each test function of ovirt-imageio's client tests to
# the function of this folder that re-enacts it. This check fails when a
# mapped function is missing, or is not parametrized over the same
# argument names as the seed's. With the seed file at hand
# (IMGXFER_SEED_FILE, set by meson when the file is next to the tree), it
# also fails when the seed has a test function the map lacks.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import ast
import os
import pathlib
import re

import pytest

HERE = pathlib.Path(__file__).parent


def readme_map():
    """{seed function: (file, function)} from README.md's table."""
    rows = re.findall(r"^\| `(test_\w+)` \| `(\w+\.py)::(test_\w+)` \|",
                      (HERE / "README.md").read_text(), re.M)
    return {seed: (path, name) for seed, path, name in rows}


def parametrized(decorators):
    """The argument names of a function's pytest.mark.parametrize."""
    names = set()
    for d in decorators:
        if (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                and d.func.attr == "parametrize"):
            names.update(n.strip() for n in d.args[0].value.split(","))
    return names


def functions(path):
    tree = ast.parse((HERE / path).read_text())
    return {node.name: parametrized(node.decorator_list)
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def seed_functions(text):
    """{name: parametrized argument names} of the seed's test functions.
    The seed file is ovirt-imageio's test file as a web page shows it,
    with commit messages between its lines: read it line by line."""
    found = {}
    pending = set()
    for line in text.splitlines():
        m = re.match(r'@pytest\.mark\.parametrize\("([^"]+)"', line)
        if m:
            pending.update(n.strip() for n in m.group(1).split(","))
        m = re.match(r"def (test_\w+)\(", line)
        if m:
            found[m.group(1)] = pending
            pending = set()
    return found


def test_every_mapped_function_exists():
    mapping = readme_map()
    assert len(mapping) == 31
    for seed, (path, name) in mapping.items():
        assert name == seed, f"{seed} is re-enacted under another name"
        assert name in functions(path), f"{path} has no {name}"


def test_seed_functions_have_counterparts():
    seed = os.environ.get("IMGXFER_SEED_FILE")
    if not seed or not os.path.exists(seed):
        pytest.skip("the seed file is not next to this tree")
    expected = seed_functions(pathlib.Path(seed).read_text())
    mapping = readme_map()
    assert sorted(set(expected) - set(mapping)) == []
    assert len(expected) == 31
    for name, params in expected.items():
        path, counterpart = mapping[name]
        assert functions(path)[counterpart] == params, name
