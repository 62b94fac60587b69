# conftest.py: the fixtures the seed's tests take from ovirt-imageio's
# (tmpdir), and a check that the library under test is the one just built
#
# meson runs these tests with GI_TYPELIB_PATH and LD_LIBRARY_PATH naming
# the build's core/ folder. The seed's srv and nbd_server fixtures are in
# test_client.py, the only file that uses them.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import pathlib
import tempfile

import pytest

from seedutil import Imgxfer, Tmpdir


def pytest_sessionstart(session):
    # Loading a typelib found anywhere else would test another build.
    path = Imgxfer.__path__
    path = path[0] if isinstance(path, list) else path
    build = os.environ.get("IMGXFER_BUILD_DIR")
    if build and not path.startswith(os.path.realpath(build)):
        raise pytest.UsageError(f"Imgxfer typelib from {path}, not {build}")


@pytest.fixture
def tmp_path():
    """A folder removed after the test. Replaces pytest's, which keeps the
    folders of the last runs in TMPDIR (meson runs pytest -p no:tmpdir)."""
    with tempfile.TemporaryDirectory(prefix="imgxfer-seed-") as path:
        yield pathlib.Path(path)


@pytest.fixture
def tmpdir(tmp_path):
    return Tmpdir(tmp_path)
