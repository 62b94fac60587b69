# test_transfer_async.py: upload and download without blocking a GLib
# main loop, from Python
#
# Imgxfer.upload_async()/download_async() against a real imgxfer serve
# over TLS: the loop keeps running (a timeout source fires while the
# transfer goes on), progress arrives on the loop's thread, the finish
# calls give the result, and a failure arrives as a GLib.Error in the
# finish call.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import threading

from gi.repository import GLib, Imgxfer

from conftest import MiB, pattern, run, write_at
# The seed's imgxfer serve fixture, over TLS with a throwaway CA.
from test_client import srv  # noqa: F401


def run_async(start, finish):
    """Runs one async call to its end in a main loop; returns what its
    finish call returned or raised, and how often the loop ticked."""
    loop = GLib.MainLoop()
    outcome = {}
    ticks = []

    def done(source, result):
        try:
            outcome["value"] = finish(result)
        except GLib.Error as error:
            outcome["error"] = error
        loop.quit()

    GLib.timeout_add(1, lambda: ticks.append(1) or True)
    GLib.timeout_add_seconds(60, loop.quit)
    start(done)
    loop.run()
    return outcome, len(ticks)


def test_upload_and_download_async(srv, tmp_path):
    image = tmp_path / "image.raw"
    with open(image, "wb") as f:
        f.truncate(32 * MiB)
    write_at(image, 5 * MiB, pattern(4 * MiB))
    served = tmp_path / "served.raw"
    with open(served, "wb") as f:
        f.truncate(32 * MiB)
    url = "file://" + str(served)
    up = f"{srv.url}/images/{srv.add_ticket(url, 32 * MiB)}"
    options = Imgxfer.TransferOptions.new()
    options.set_ca_file(srv.ca_file)
    threads = set()
    lengths = []

    def progress(length, total):
        threads.add(threading.get_ident())
        lengths.append(length)

    options.set_progress_func(progress)

    outcome, ticks = run_async(
        lambda done: Imgxfer.upload_async(str(image), up, options, None,
                                          done),
        Imgxfer.upload_finish)

    assert outcome == {"value": True}
    assert sum(lengths) == 32 * MiB
    assert threads == {threading.get_ident()}
    assert ticks > 0

    copy = tmp_path / "copy.raw"
    options.set_format("raw")
    outcome, _ = run_async(
        lambda done: Imgxfer.download_async(up, str(copy), options, None,
                                            done),
        Imgxfer.download_finish)

    assert outcome == {"value": True}
    run("qemu-img", "compare", "-f", "raw", "-F", "raw", str(image),
        str(copy))


def test_download_async_failure_is_a_glib_error(srv, tmp_path):
    url = f"{srv.url}/images/no-such-ticket"
    options = Imgxfer.TransferOptions.new()
    options.set_ca_file(srv.ca_file)

    outcome, _ = run_async(
        lambda done: Imgxfer.download_async(url, str(tmp_path / "copy"),
                                            options, None, done),
        Imgxfer.download_finish)

    error = outcome["error"]
    assert error.domain in ("imgxfer-error-quark", "g-io-error-quark")
    assert "no-such-ticket" in error.message
    # The server refused before anything was created.
    assert not (tmp_path / "copy").exists()
