# conftest.py: the fixtures the seed's tests take from ovirt-imageio's
# (tmpdir), and those of bindings.py
#
# meson runs these tests with GI_TYPELIB_PATH and LD_LIBRARY_PATH naming
# the build's core/ folder. The seed's srv and nbd_server fixtures are in
# test_client.py, the only file that uses them.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest

from bindings import pytest_sessionstart, tmp_path  # noqa: F401
from seedutil import Tmpdir


@pytest.fixture
def tmpdir(tmp_path):
    return Tmpdir(tmp_path)
