# test_client_local.py: the seed's info, measure, checksum and extents
# scenarios, through the bindings
#
# ovirt-imageio's client tests that need no server, with the same names
# and parameters, asserting what they assert: the image's format and
# virtual size, an OVA member's offset and size as Python's tarfile finds
# them, the space a conversion needs, blkhash checksums equal to the ones
# computed here with hashlib, and the exact zero, hole and dirty extents
# of raw files, qcow2 chains, OVA members and dirty bitmaps.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import tarfile

import pytest

from seedutil import (CLUSTER_SIZE, MiB, DirtyExtent, ZeroExtent, blkhash,
                      client_checksum, client_extents, client_info,
                      client_measure, qemu_img_bitmap_add, qemu_img_convert,
                      qemu_img_create, qemu_io)


def make_image(tmpdir, fmt, compressed, size=2 * MiB):
    """A 2 MiB image with CLUSTER_SIZE bytes of "x" at its start, made
    from the raw file tmp, which is returned with it."""
    tmp = str(tmpdir.join("tmp"))
    with open(tmp, "wb") as f:
        f.truncate(size)
        f.write(b"x" * CLUSTER_SIZE)
    img = str(tmpdir.join("img"))
    qemu_img_convert(tmp, img, "raw", fmt, compressed=compressed)
    return tmp, img


def make_ova(tmpdir, img):
    member = os.path.basename(img)
    ova = str(tmpdir.join("ova"))
    with tarfile.open(ova, "w") as tar:
        tar.add(img, arcname=member)
    with tarfile.open(ova) as tar:
        member_info = tar.getmember(member)
    return ova, member, member_info


FORMATS = [
    ("raw", False),
    ("qcow2", False),
    ("qcow2", True),
]


@pytest.mark.parametrize("fmt, compressed", FORMATS)
def test_info(tmpdir, fmt, compressed):
    size = 2 * MiB
    _, img = make_image(tmpdir, fmt, compressed, size)

    img_info = client_info(img)

    assert img_info["format"] == fmt
    assert img_info["virtual-size"] == size
    # No member info when no member was asked for.
    assert "member-offset" not in img_info
    assert "member-size" not in img_info

    ova, member, member_info = make_ova(tmpdir, img)
    ova_info = client_info(ova, member=member)

    assert ova_info["format"] == fmt
    assert ova_info["virtual-size"] == size
    assert ova_info["member-offset"] == member_info.offset_data
    assert ova_info["member-size"] == member_info.size


@pytest.mark.parametrize("fmt, compressed", FORMATS)
def test_measure_to_raw(tmpdir, fmt, compressed):
    size = 2 * MiB
    _, img = make_image(tmpdir, fmt, compressed, size)

    measure = client_measure(img, "raw")

    assert measure["required"] == size


@pytest.mark.parametrize("fmt, compressed", FORMATS)
def test_measure_to_qcow2(tmpdir, fmt, compressed):
    _, img = make_image(tmpdir, fmt, compressed)

    measure = client_measure(img, "qcow2")

    assert measure["required"] == 393216


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_measure_from_ova(tmpdir, compressed, fmt):
    _, img = make_image(tmpdir, "qcow2", compressed)

    img_measure = client_measure(img, fmt)

    assert "member-offset" not in img_measure
    assert "member-size" not in img_measure

    ova, member, member_info = make_ova(tmpdir, img)
    ova_measure = client_measure(ova, fmt, member=member)

    assert ova_measure["required"] == img_measure["required"]
    assert ova_measure["fully-allocated"] == img_measure["fully-allocated"]
    assert ova_measure["member-offset"] == member_info.offset_data
    assert ova_measure["member-size"] == member_info.size


@pytest.mark.parametrize("fmt, compressed", FORMATS)
def test_checksum(tmpdir, fmt, compressed):
    tmp, img = make_image(tmpdir, fmt, compressed)

    expected = blkhash(tmp, block_size=MiB)
    actual = client_checksum(img, block_size=MiB)

    assert actual == expected


@pytest.mark.parametrize("fmt, compressed", FORMATS)
def test_checksum_from_ova(tmpdir, fmt, compressed):
    tmp, img = make_image(tmpdir, fmt, compressed)
    ova, member, _ = make_ova(tmpdir, img)

    expected = blkhash(tmp, block_size=MiB)
    actual = client_checksum(ova, member=member, block_size=MiB)

    assert actual == expected


@pytest.mark.parametrize("algorithm,digest_size", [
    ("blake2b", 32),
    ("sha1", None),
])
def test_checksum_algorithm(tmpdir, algorithm, digest_size):
    img = str(tmpdir.join("img"))
    qemu_img_create(img, "raw", size="2m")

    expected = blkhash(img, block_size=MiB, algorithm=algorithm,
                       digest_size=digest_size)
    actual = client_checksum(img, block_size=MiB, algorithm=algorithm)

    assert actual == expected


def test_zero_extents_raw(tmpdir):
    size = 10 * MiB
    image = str(tmpdir.join("image.raw"))
    qemu_img_create(image, "raw", size=size)
    qemu_io(image, "raw", "write -P 0x41 0 64k", "write -z 64k 64k",
            "write -P 0x42 128k 64k")

    extents = client_extents(image)

    # An unallocated range of a raw image is not reported as a hole.
    assert extents == [
        ZeroExtent(start=0 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=False, hole=False),
        ZeroExtent(start=1 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=True, hole=False),
        ZeroExtent(start=2 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=False, hole=False),
        ZeroExtent(start=3 * CLUSTER_SIZE, length=size - 3 * CLUSTER_SIZE,
                   zero=True, hole=False),
    ]


def test_zero_extents_qcow2(tmpdir):
    size = 10 * MiB
    base = str(tmpdir.join("base.qcow2"))
    qemu_img_create(base, "qcow2", size=size)
    qemu_io(base, "qcow2", "write -P 0x41 0 64k", "write -z 64k 64k")
    top = str(tmpdir.join("top.qcow2"))
    qemu_img_create(top, "qcow2", backing_file=base, backing_format="qcow2")
    qemu_io(top, "qcow2", "write -P 0x42 192k 64k", "write -z 256k 64k")

    extents = client_extents(top)

    assert extents == [
        # Extents from base...
        ZeroExtent(start=0 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=False, hole=False),
        ZeroExtent(start=1 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=True, hole=False),
        ZeroExtent(start=2 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=True, hole=True),
        # Extents from top...
        ZeroExtent(start=3 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=False, hole=False),
        ZeroExtent(start=4 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=True, hole=False),
        # Rest of unallocated data...
        ZeroExtent(start=5 * CLUSTER_SIZE, length=size - 5 * CLUSTER_SIZE,
                   zero=True, hole=True),
    ]


def test_zero_extents_from_ova(tmpdir):
    size = 10 * MiB
    disk = str(tmpdir.join("disk.qcow2"))
    qemu_img_create(disk, "qcow2", size=size)
    qemu_io(disk, "qcow2", "write -P 0x41 0 64k", "write -z 64k 64k")
    ova, member, _ = make_ova(tmpdir, disk)

    extents = client_extents(ova, member=member)

    assert extents == [
        ZeroExtent(start=0 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=False, hole=False),
        ZeroExtent(start=1 * CLUSTER_SIZE, length=CLUSTER_SIZE,
                   zero=True, hole=False),
        ZeroExtent(start=2 * CLUSTER_SIZE, length=size - 2 * CLUSTER_SIZE,
                   zero=True, hole=True),
    ]


def test_dirty_extents(tmpdir):
    size = MiB
    base = str(tmpdir.join("base.qcow2"))
    qemu_img_create(base, "qcow2", size=size)
    qemu_img_bitmap_add(base, "b0")
    # Writing marks the bitmap dirty.
    qemu_io(base, "qcow2", "write -P 0x41 0 64k", "write -z 64k 64k")
    top = str(tmpdir.join("top.qcow2"))
    qemu_img_create(top, "qcow2", backing_file=base, backing_format="qcow2")
    qemu_img_bitmap_add(top, "b0")
    qemu_io(top, "qcow2", "write -P 0x42 192k 64k", "write -z 256k 64k")

    dirty_extents = client_extents(base, bitmap="b0")

    assert dirty_extents == [
        # First cluster is dirty data.
        DirtyExtent(start=0 * CLUSTER_SIZE, length=1 * CLUSTER_SIZE,
                    dirty=True, zero=False),
        # Second cluster is dirty zero.
        DirtyExtent(start=1 * CLUSTER_SIZE, length=1 * CLUSTER_SIZE,
                    dirty=True, zero=True),
        # Third cluster is clean zero.
        DirtyExtent(start=2 * CLUSTER_SIZE, length=size - 2 * CLUSTER_SIZE,
                    dirty=False, zero=True),
    ]

    dirty_extents = client_extents(top, bitmap="b0")

    # The bitmap is the top image's; zero extents come from the chain.
    assert dirty_extents == [
        # First cluster is clean data, read from base image.
        DirtyExtent(start=0 * CLUSTER_SIZE, length=1 * CLUSTER_SIZE,
                    dirty=False, zero=False),
        # Second and third clusters are clean zero in the base image,
        # merged.
        DirtyExtent(start=1 * CLUSTER_SIZE, length=2 * CLUSTER_SIZE,
                    dirty=False, zero=True),
        # Fourth cluster is data modified in the top image.
        DirtyExtent(start=3 * CLUSTER_SIZE, length=1 * CLUSTER_SIZE,
                    dirty=True, zero=False),
        # Fifth cluster is a zero modified in the top image.
        DirtyExtent(start=4 * CLUSTER_SIZE, length=1 * CLUSTER_SIZE,
                    dirty=True, zero=True),
        # The rest is clean zero.
        DirtyExtent(start=5 * CLUSTER_SIZE, length=size - 5 * CLUSTER_SIZE,
                    dirty=False, zero=True),
    ]
