# test_embedding.py: the "Embedding imgxfer" guide's examples run
#
# docs/examples/embedding/roundtrip.c (built by meson) and roundtrip.py
# upload an image with progress to a real imgxfer serve over TLS and
# download it back; each must print the checksum of the image, the one
# the server computed and that of the copy being equal, show progress up
# to 100%, and leave a qcow2 copy equal to the image (qemu-img compare).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import pathlib
import subprocess

from conftest import MiB, pattern, run, write_at
# The seed's imgxfer serve fixture, over TLS with a throwaway CA.
from test_client import srv  # noqa: F401

EXAMPLES = pathlib.Path(__file__).parents[2] / "docs" / "examples" / \
    "embedding"


def roundtrip(srv, tmp_path, program):
    image = tmp_path / "image.raw"
    with open(image, "wb") as f:
        f.truncate(16 * MiB)
    write_at(image, 3 * MiB, pattern(MiB))
    served = tmp_path / "served.raw"
    with open(served, "wb") as f:
        f.truncate(16 * MiB)
    url = "file://" + str(served)
    up = srv.add_ticket(url, 16 * MiB, ops=("write",))
    down = srv.add_ticket(url, 16 * MiB, ops=("read",))
    copy = tmp_path / "copy.qcow2"

    result = subprocess.run(
        program + [str(image), f"{srv.url}/images/{up}",
                   f"{srv.url}/images/{down}", str(copy), srv.ca_file],
        capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "upload: 100%" in result.stderr
    assert "download: 100%" in result.stderr
    checksum = run(os.environ["IMGXFER_CLI"], "checksum",
                   str(image)).stdout.split()[0]
    assert result.stdout.strip() == checksum
    # A download is a qcow2 image unless a format is set.
    run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", str(image),
        str(copy))


def test_c_example(srv, tmp_path):
    roundtrip(srv, tmp_path, [os.environ["IMGXFER_EXAMPLE_ROUNDTRIP"]])


def test_python_example(srv, tmp_path):
    roundtrip(srv, tmp_path, ["/usr/bin/python3",
                              str(EXAMPLES / "roundtrip.py")])
