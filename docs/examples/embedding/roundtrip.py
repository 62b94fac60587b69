#!/usr/bin/python3
# roundtrip.py: upload an image to an imageio server, with progress, and
# download it back, from Python through GObject introspection
#
#   roundtrip.py IMAGE UPLOAD_URL DOWNLOAD_URL COPY CA_FILE
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

import gi

gi.require_version("Imgxfer", "1.0")
from gi.repository import GLib, Imgxfer  # noqa: E402


class Progress:
    def __init__(self, what):
        self.what = what
        self.done = 0

    # Called once per completed request; the lengths add up to total.
    def __call__(self, length, total):
        self.done += length
        percent = self.done * 100 // total if total else 100
        end = "\n" if self.done == total else ""
        print(f"\r{self.what}: {percent:3d}%", end=end, file=sys.stderr)


def checksum(url, ca_file=None):
    options = Imgxfer.OpenOptions.new()
    if ca_file:
        options.set_ca_file(ca_file)
    image = Imgxfer.open(url, options, None)
    # A server computes the checksum of its image itself.
    return Imgxfer.checksum_compute(image, None, 0, 0, None)


def main(image, upload_url, download_url, copy, ca_file):
    options = Imgxfer.TransferOptions.new()
    options.set_ca_file(ca_file)
    options.set_progress_func(Progress("upload"))
    Imgxfer.upload(image, upload_url, options, None)

    options.set_progress_func(Progress("download"))
    Imgxfer.download(download_url, copy, options, None)

    sums = {checksum(image), checksum(download_url, ca_file), checksum(copy)}
    if len(sums) != 1:
        sys.exit(f"roundtrip.py: checksums differ: {sums}")
    print(sums.pop())


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: roundtrip.py IMAGE UPLOAD_URL DOWNLOAD_URL COPY "
                 "CA_FILE")
    try:
        main(*sys.argv[1:])
    except GLib.Error as error:
        sys.exit(f"roundtrip.py: {error.message}")
