# conftest.py: libimgxfer through GObject introspection
#
# meson runs these tests with GI_TYPELIB_PATH and LD_LIBRARY_PATH naming
# the build's core/ folder, so the typelib and library under test are the
# ones just built, not an installed copy.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import subprocess

import pytest

from bindings import pytest_sessionstart, tmp_path  # noqa: F401

MiB = 1024 * 1024


def pattern(length, seed=0):
    """Bytes that differ from block to block: byte i is (i + seed) % 251."""
    return bytes((i + seed) % 251 for i in range(251)) * (length // 251) + \
        bytes((i + seed) % 251 for i in range(length % 251))


def write_at(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def run(*args, **kwargs):
    """Runs a command that must succeed, bounded in time."""
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          timeout=30, **kwargs)


@pytest.fixture
def sparse_raw(tmp_path):
    """8 MiB raw file: a hole, 64 KiB of data at 1 MiB, a hole, 4 KiB of
    data at 6 MiB, a hole to the end."""
    path = tmp_path / "sparse.raw"
    with open(path, "wb") as f:
        f.truncate(8 * MiB)
    write_at(path, 1 * MiB, pattern(64 * 1024))
    write_at(path, 6 * MiB, pattern(4096, seed=7))
    return path


@pytest.fixture
def cli():
    path = os.environ.get("IMGXFER_CLI")
    if not path:
        pytest.fail("IMGXFER_CLI is not set (run the tests through meson)")
    return path
