# test_destination.py: the destination policy from Python
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import os

import pytest
from gi.repository import GLib, Imgxfer

from conftest import MiB, run


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_refuses_backing_file_of_source(tmp_path):
    base = tmp_path / "base.qcow2"
    top = tmp_path / "top.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(base), "4M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 7 0 1M", str(base))
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2",
        "-F", "qcow2", str(top))
    before = digest(base)
    link = tmp_path / "alias.qcow2"
    os.symlink(base, link)
    source = Imgxfer.open(str(top), None, None)
    files = source.get_local_files(None)
    assert {os.stat(f).st_ino for f in files} >= {os.stat(base).st_ino,
                                                  os.stat(top).st_ino}

    with pytest.raises(GLib.Error) as raised:
        Imgxfer.open_destination(str(link), None, source.get_size(), source,
                                 None, None, Imgxfer.DestinationFlags.NONE,
                                 None)

    assert raised.value.matches(Imgxfer.error_quark(),
                                Imgxfer.Error.INVALID_ARGUMENT)
    assert str(link) in raised.value.message
    assert str(top) in raised.value.message
    assert digest(base) == before


def test_creates_at_size(tmp_path):
    path = tmp_path / "new.raw"

    destination = Imgxfer.open_destination(
        str(path), None, 3 * MiB, None, None, None,
        Imgxfer.DestinationFlags.NONE, None)

    assert destination.get_size() == 3 * MiB
    assert path.stat().st_size == 3 * MiB
