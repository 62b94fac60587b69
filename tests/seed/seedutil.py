# seedutil.py: what the seed's tests take from ovirt-imageio's helpers
# (qemu_img, qemu_nbd, blkhash, the client's local calls), made of the
# real tools and of the bindings
#
# Images are made with qemu-img and written with qemu-io.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import hashlib
import os
import subprocess

import gi

gi.require_version("Imgxfer", "1.0")
gi.require_version("Json", "1.0")

from gi.repository import Imgxfer, Json  # noqa: E402

CLUSTER_SIZE = 64 * 1024
IMAGE_SIZE = 3 * CLUSTER_SIZE
MiB = 1024**2


def run(*args, **kwargs):
    """Runs a command that must succeed, bounded in time."""
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          timeout=60, **kwargs)


class Tmpdir:
    """What the seed's tmpdir.join() gives."""

    def __init__(self, path):
        self.path = str(path)

    def join(self, name):
        return os.path.join(self.path, name)


# The seed's qemu_img and qemu_nbd calls, through qemu-img and qemu-io.

def qemu_img_create(path, fmt, size=None, backing_file=None,
                    backing_format=None):
    args = ["qemu-img", "create", "-q", "-f", fmt]
    if backing_file:
        args += ["-b", backing_file, "-F", backing_format]
    args.append(path)
    if size is not None:
        args.append(str(size))
    run(*args)


def qemu_img_convert(src, dst, src_fmt, dst_fmt, compressed=False):
    args = ["qemu-img", "convert", "-f", src_fmt, "-O", dst_fmt]
    if compressed:
        args.append("-c")
    run(*(args + [src, dst]))


def qemu_img_bitmap_add(path, name):
    run("qemu-img", "bitmap", "--add", path, name)


def qemu_io(path, fmt, *commands):
    """Writes as the seed's qemu_nbd.open(path, fmt) client does:
    "write -P 0x41 0 64k" is c.write(0, b"A" * 64k), "write -z" is
    c.zero() and "write -z -u" c.zero(punch_hole=True)."""
    args = ["qemu-io", "-f", fmt]
    for command in commands:
        args += ["-c", command]
    run(*(args + [path]))


def blkhash(path, block_size=4 * MiB, algorithm="blake2b", digest_size=None):
    """The seed's blkhash.checksum(): H(H(block 0) + H(block 1) + ...),
    computed here with hashlib alone."""
    with open(path, "rb") as f:
        blocks = iter(lambda: f.read(block_size), b"")
        return blocks_hash(blocks, algorithm, digest_size)


def blkhash_bytes(data, block_size=4 * MiB, algorithm="blake2b"):
    """blkhash() of bytes in memory."""
    blocks = (data[offset:offset + block_size]
              for offset in range(0, len(data), block_size))
    return blocks_hash(blocks, algorithm)


def blocks_hash(blocks, algorithm, digest_size=None):
    def new():
        if digest_size is not None:
            return hashlib.new(algorithm, digest_size=digest_size)
        if algorithm.startswith("blake2"):
            return hashlib.new(algorithm, digest_size=32)
        return hashlib.new(algorithm)

    root = new()
    for block in blocks:
        h = new()
        h.update(block)
        root.update(h.digest())
    return root.hexdigest()


# What the seed's client gives, through the bindings.

ZeroExtent = collections.namedtuple("ZeroExtent",
                                    "start, length, zero, hole")
DirtyExtent = collections.namedtuple("DirtyExtent",
                                     "start, length, dirty, zero")


def open_options(member=None, bitmap=None):
    options = Imgxfer.OpenOptions.new()
    if member is not None:
        options.set_member(member)
    if bitmap is not None:
        options.set_bitmap(bitmap)
    return options


def client_extents(filename, member=None, bitmap=None):
    """client.extents(): zero extents, or dirty ones with a bitmap."""
    source = Imgxfer.open(filename, open_options(member, bitmap), None)
    F = Imgxfer.ExtentFlags
    if bitmap is None:
        extents = Imgxfer.image_extents(source, Imgxfer.ExtentContext.ZERO,
                                        None)
        return [ZeroExtent(e.start, e.length, bool(e.flags & F.ZERO),
                           bool(e.flags & F.HOLE)) for e in extents]
    extents = Imgxfer.image_extents(source, Imgxfer.ExtentContext.DIRTY,
                                    None)
    return [DirtyExtent(e.start, e.length, bool(e.flags & F.DIRTY),
                        bool(e.flags & F.ZERO)) for e in extents]


def json_dict(node):
    """A Json.Node holding an object, as a dict of its members."""
    obj = node.get_object()
    members = {name: obj.get_member(name) for name in obj.get_members()}
    return {name: m.get_value() if m.get_node_type() == Json.NodeType.VALUE
            else m for name, m in members.items()}


def client_info(filename, member=None):
    return json_dict(Imgxfer.image_info(filename, open_options(member),
                                        None))


def client_measure(filename, dst_fmt, member=None):
    return json_dict(Imgxfer.image_measure(filename, open_options(member),
                                           dst_fmt, None))


def client_checksum(filename, member=None, block_size=4 * MiB,
                    algorithm="blake2b"):
    source = Imgxfer.open(filename, open_options(member), None)
    return Imgxfer.checksum_compute(source, algorithm, block_size, 0, None)
