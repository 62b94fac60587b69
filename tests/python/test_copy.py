# test_copy.py: the copy engine from Python, sync and with a main loop
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import subprocess

from gi.repository import GLib, Imgxfer

from conftest import MiB, run


def create_raw(path, size):
    return Imgxfer.create(str(path), "raw", size, None, None, None, None)


def assert_images_equal(a, b, fmt_a="raw", fmt_b="raw"):
    run("qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, str(a), str(b))


def test_copy_file_to_file(sparse_raw, tmp_path):
    target = tmp_path / "target.raw"
    source = Imgxfer.open(str(sparse_raw), None, None)
    destination = create_raw(target, source.get_size())
    copy = Imgxfer.Copy.new(source, destination)
    copy.set_connections(2)

    assert copy.run(None)

    assert copy.get_done() == copy.get_total() == 8 * MiB
    assert_images_equal(sparse_raw, target)


def test_copy_to_qcow2(sparse_raw, tmp_path):
    target = tmp_path / "target.qcow2"
    source = Imgxfer.open(str(sparse_raw), None, None)
    destination = Imgxfer.create(str(target), "qcow2", source.get_size(),
                                 None, None, None, None)

    assert Imgxfer.Copy.new(source, destination).run(None)

    # Flushes and stops what writes the image, so qemu-img can take its
    # lock; says whether that went well.
    assert destination.close(Imgxfer.CloseFlags.FLUSH, None)
    assert destination.is_closed()
    assert_images_equal(sparse_raw, target, "raw", "qcow2")


def test_copy_detects_different_images(sparse_raw, tmp_path):
    # Guards the comparison above: qemu-img compare does fail on a change.
    target = tmp_path / "target.raw"
    source = Imgxfer.open(str(sparse_raw), None, None)
    assert Imgxfer.Copy.new(source, create_raw(target, 8 * MiB)).run(None)
    with open(target, "r+b") as f:
        f.seek(7 * MiB)
        f.write(b"x")

    result = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw",
                             str(sparse_raw), str(target)],
                            capture_output=True, timeout=30)
    assert result.returncode == 1


def test_copy_async_with_progress(sparse_raw, tmp_path):
    target = tmp_path / "target.raw"
    source = Imgxfer.open(str(sparse_raw), None, None)
    copy = Imgxfer.Copy.new(source, create_raw(target, source.get_size()))
    loop = GLib.MainLoop()
    progress = []
    outcome = {}

    def on_progress(copy, done, total):
        progress.append((done, total))

    def on_done(copy, result):
        try:
            outcome["ok"] = copy.run_finish(result)
        except GLib.Error as error:
            outcome["error"] = error
        loop.quit()

    def on_timeout():
        outcome["error"] = "timed out"
        loop.quit()
        return GLib.SOURCE_CONTINUE  # removed below, in any case

    copy.connect("progress", on_progress)
    copy.run_async(None, on_done)
    timeout = GLib.timeout_add_seconds(20, on_timeout)
    loop.run()
    GLib.source_remove(timeout)

    assert outcome == {"ok": True}
    assert progress, "no progress signal"
    assert progress[-1] == (8 * MiB, 8 * MiB)
    dones = [done for done, _ in progress]
    assert dones == sorted(dones)
    assert_images_equal(sparse_raw, target)


def test_copy_progress_func_from_worker_threads(sparse_raw, tmp_path):
    source = Imgxfer.open(str(sparse_raw), None, None)
    copy = Imgxfer.Copy.new(source, create_raw(tmp_path / "target.raw",
                                               source.get_size()))
    copy.set_connections(4)
    copy.set_request_size(1 * MiB)
    lengths = []

    # Called on the workers' threads; list.append holds the GIL.
    copy.set_progress_func(lengths.append)

    assert copy.run(None)
    assert sum(lengths) == 8 * MiB
