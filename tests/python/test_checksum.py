# test_checksum.py: blkhash checksums from Python, against the vectors
# of the blkhash test vectors (compatible with ovirt-imageio)
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest
from gi.repository import Imgxfer

from conftest import MiB, pattern, run
from seedutil import blkhash_bytes

VECTORS = [
    # (name, content, block size, algorithm, checksum)
    ("zeroes-1m", bytes(2 * MiB), 1 * MiB, "blake2b",
     "1ef6e64709c8dcf9a2bdb63de33335dcd64febdc6657a3c14ce7bd3ad50af011"),
    ("pattern-1m", pattern(3 * MiB + 123), 1 * MiB, "blake2b",
     "9a478b9bb874dbaef5510ba081a6662e123a57de078ebf4356c16d2c9b7cb58d"),
    ("pattern-sha1", pattern(3 * MiB + 123), 1 * MiB, "sha1",
     "af433f3f83b9421f28d628f484d160978c1fee0c"),
    ("pattern-sha256", pattern(3 * MiB + 123), 1 * MiB, "sha256",
     "a4c71b2b7dc76d4e6b5105b4973ccf175157a96b867503e531cf492576abca6c"),
    ("pattern-4m", pattern(3 * MiB + 123), 4 * MiB, "blake2b",
     "601b2e67649ddcf79e5b9d904b7b176c51667b275c41ea0268c366cc13c65a25"),
    ("zeroes-4m", bytes(2 * MiB), 4 * MiB, "blake2b",
     "9003081a5d3ac5f82db5d41f3029c41972aea30fe692af27021db7116075bfd4"),
    ("data-then-zeroes", b"data" + bytes(4 * MiB - 4), 4 * MiB, "blake2b",
     "f426bb2cf1e1901fe4e87423950944ecfed6d9d18a09e6e802aa4912e1c9b2d6"),
    ("empty", b"", 4 * MiB, "blake2b",
     "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"),
]


@pytest.mark.parametrize("content, block_size, algorithm, expected",
                         [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS])
def test_checksum_vectors(tmp_path, content, block_size, algorithm, expected):
    path = tmp_path / "image.raw"
    path.write_bytes(content)
    source = Imgxfer.open(str(path), None, None)

    checksum = Imgxfer.checksum_compute(source, algorithm, block_size, 2,
                                        None)

    # A raw file is seen at its size rounded up to 512 bytes, the tail
    # reading as zeroes, as qemu and imageio's client see it.
    assert blkhash_bytes(content, block_size, algorithm) == expected
    padded = content + bytes(-len(content) % 512)
    assert checksum == blkhash_bytes(padded, block_size, algorithm)


def test_checksum_default_matches_cli(sparse_raw, cli):
    source = Imgxfer.open(str(sparse_raw), None, None)

    checksum = Imgxfer.checksum_compute(source, None, 0, 0, None)

    assert run(cli, "checksum", str(sparse_raw)).stdout.split()[0] == checksum


def test_incremental_checksum():
    # 2 MiB of zeroes fed as one zero range and as data give the same root.
    checksum = Imgxfer.Checksum.new("blake2b", 1 * MiB, 2 * MiB)
    checksum.update_zero(0, 1 * MiB)
    checksum.update(1 * MiB, bytes(1 * MiB))

    assert checksum.finish() == VECTORS[0][4]


def test_algorithms():
    algorithms = Imgxfer.checksum_list_algorithms()

    assert {"blake2b", "sha1", "sha256"} <= set(algorithms)
