# test_compare.py: comparing images from Python
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import shutil

from gi.repository import Imgxfer

from conftest import MiB, run, write_at

Result = Imgxfer.CompareResult


def compare(path1, path2, flags=Imgxfer.CompareFlags.NONE):
    image1 = Imgxfer.open(str(path1), None, None)
    image2 = Imgxfer.open(str(path2), None, None)
    ok, result, offset = Imgxfer.compare(image1, image2, flags, 0, None)
    assert ok
    return result, offset


def test_identical_and_different(sparse_raw, tmp_path):
    copy = tmp_path / "copy.raw"
    shutil.copyfile(sparse_raw, copy)

    assert compare(sparse_raw, copy) == (Result.IDENTICAL, 0)

    write_at(copy, 3 * MiB + 5, b"x")
    assert compare(sparse_raw, copy) == (Result.CONTENT_DIFFERS, 3 * MiB + 5)


def test_qcow2_copy_and_strict(sparse_raw, tmp_path):
    qcow2 = tmp_path / "copy.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(sparse_raw),
        str(qcow2))

    assert compare(sparse_raw, qcow2) == (Result.IDENTICAL, 0)
    # A hole of a raw file reads as zeroes; qcow2's unallocated clusters
    # are holes.
    result, _ = compare(sparse_raw, qcow2, Imgxfer.CompareFlags.STRICT)
    assert result == Result.ALLOCATION_DIFFERS
