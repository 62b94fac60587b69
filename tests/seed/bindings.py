# bindings.py: what both suites of the bindings (tests/python, tests/seed)
# give pytest from their conftest.py: a check that the library under test
# is the one just built, and a tmp_path that leaves nothing behind
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import pathlib
import tempfile

import pytest

from seedutil import Imgxfer


def pytest_sessionstart(session):
    # Loading a typelib found anywhere else would test another build.
    path = Imgxfer.__path__
    path = path[0] if isinstance(path, list) else path
    build = os.environ.get("IMGXFER_BUILD_DIR")
    if build and not path.startswith(os.path.realpath(build)):
        raise pytest.UsageError(f"Imgxfer typelib from {path}, not {build}")


@pytest.fixture
def tmp_path(request):
    """A folder removed after the test, named after the suite. Replaces
    pytest's, which keeps the folders of the last runs in TMPDIR (meson
    runs pytest -p no:tmpdir)."""
    prefix = f"imgxfer-{request.path.parent.name}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        yield pathlib.Path(path)
