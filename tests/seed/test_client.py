# test_client.py: the seed's client scenarios, through the bindings
#
# ovirt-imageio's client tests (upload, download, proxy URL, progress,
# stress, concurrent downloads) with the same names and parameters,
# asserting what they assert, against a real `imgxfer serve` over TLS
# with file and qemu-nbd tickets. Images are written with qemu-io and
# compared with qemu-img compare (strict where the seed is strict).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed

import pytest

from gi.repository import Imgxfer

from seedutil import (CLUSTER_SIZE, IMAGE_SIZE, MiB, qemu_img_convert,
                      qemu_img_create, qemu_io, run)


def cli():
    return os.environ["IMGXFER_CLI"]


class Server:
    """imgxfer serve on loopback, with a throwaway CA."""

    def __init__(self, tmpdir, local=True):
        self.dir = tmpdir
        self.ca_file = os.path.join(tmpdir, "ca.pem")
        self.cert = os.path.join(tmpdir, "server.pem")
        self.key = os.path.join(tmpdir, "server.key")
        self.control = os.path.join(tmpdir, "control.sock")
        self.local = os.path.join(tmpdir, "local.sock")
        make_certificates(tmpdir, self.ca_file, self.cert, self.key)
        args = [cli(), "serve", "--foreground", "--host", "127.0.0.1",
                "--port", "0", "--cert", self.cert, "--key", self.key,
                "--control-socket", self.control]
        args += ["--local-socket", self.local] if local else ["--no-local"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 20
        self.url = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"listening on (https://\S+)", line)
            if m:
                self.url = m.group(1).replace("[127.0.0.1]", "127.0.0.1")
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("imgxfer serve did not start")

    def add_ticket(self, url, size, sparse=True, ops=("read", "write"),
                   timeout=300, extra=()):
        ticket = str(uuid.uuid4())
        args = [cli(), "ticket", "--control-socket", self.control, "add",
                "--id", ticket, "--url", url, "--size", str(size),
                "--ops", ",".join(ops), "--timeout", str(timeout)]
        if sparse:
            args.append("--sparse")
        run(*(args + list(extra)))
        return ticket

    def delete_ticket(self, ticket):
        run(cli(), "ticket", "--control-socket", self.control, "del", ticket)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        # The daemon gives its requests up to 10 s to end, then closes its
        # images: killed before that, it would leave its qemu-nbd folders.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def make_certificates(tmpdir, ca, cert, key):
    ca_key = os.path.join(tmpdir, "ca.key")
    csr = os.path.join(tmpdir, "server.csr")
    ext = os.path.join(tmpdir, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-CAserial", os.path.join(tmpdir, "ca.srl"),
        "-out", cert, "-days", "2", "-extfile", ext)


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="imgxfer-client-") as tmpdir, \
            Server(tmpdir) as s:
        yield s


def prepare_transfer(srv, url, sparse=True, size=IMAGE_SIZE):
    ticket = srv.add_ticket(url, size, sparse=sparse)
    return "{}/images/{}".format(srv.url, ticket)


def wait_for_nbd(sock, proc, seconds=60):
    """Waits until proc, an NBD server, greets a client on the unix socket
    sock: the socket file exists before the server listens on it. The
    client then leaves with NBD_OPT_ABORT, so that the server logs
    nothing. Fails when proc exits or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(1)
                client.connect(sock)
                with client.makefile("rb") as stream:
                    greeting = stream.read(18)
                if greeting[:16] == b"NBDMAGICIHAVEOPT":
                    flags = struct.unpack(">H", greeting[16:])[0]
                    client.sendall(struct.pack(">I", flags & 3) + b"IHAVEOPT"
                                   + struct.pack(">II", 2, 0))
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d before it served %s"
                               % (proc.args[0], proc.returncode, sock))
        if time.monotonic() > deadline:
            raise RuntimeError("%s did not serve %s in %d s"
                               % (proc.args[0], sock, seconds))
        time.sleep(0.02)


class NbdServer:
    """qemu-nbd on a unix socket, as imageio's tests start it."""

    def __init__(self, tmpdir):
        self.sock = os.path.join(tmpdir, "nbd.sock")
        self.image = None
        self.fmt = None
        self.backing_chain = True
        self.proc = None

    def url(self):
        return "nbd:unix:" + self.sock

    def start(self):
        if self.backing_chain:
            image = ["-f", self.fmt, self.image]
        else:
            image = ['json:{"driver": "%s", "backing": null, "file": '
                     '{"driver": "file", "filename": "%s"}}'
                     % (self.fmt, self.image)]
        args = ["qemu-nbd", "--persistent", "--shared=8", "--socket",
                self.sock, "--export-name=", "--cache=writeback",
                "--discard=unmap"]
        if self.fmt != "raw":
            args.append("--allocation-depth")
        self.proc = subprocess.Popen(args + image)
        try:
            wait_for_nbd(self.sock, self.proc)
        except RuntimeError:
            self.stop()
            raise

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None
        if os.path.exists(self.sock):
            os.unlink(self.sock)


@pytest.fixture
def nbd_server(tmp_path):
    server = NbdServer(str(tmp_path))
    yield server
    server.stop()


# What the seed does through its qemu_img and qemu_nbd modules.

def qemu_img_compare(a, b, format1="raw", format2="raw", strict=False):
    # -U: a ticket's image stays open in the server, which holds qemu's
    # write lock on it while the ticket lives.
    args = ["qemu-img", "compare", "-U", "-f", format1, "-F", format2]
    if strict:
        args.append("-s")
    run(*(args + [a, b]))


def options(srv, **kwargs):
    o = Imgxfer.TransferOptions.new()
    o.set_ca_file(srv.ca_file)
    for name, value in kwargs.items():
        getattr(o, "set_" + name)(value)
    return o


def upload(src, url, srv, progress=None, **kwargs):
    o = options(srv, **kwargs)
    if progress is not None:
        o.set_progress_func(progress)
    Imgxfer.upload(src, url, o, None)


def download(url, dst, srv, **kwargs):
    Imgxfer.download(url, dst, options(srv, **kwargs), None)


def filled_file(tmpdir, name, size=IMAGE_SIZE):
    """A file whose every byte is data, for an upload to replace."""
    path = str(tmpdir.join(name))
    with open(path, "wb") as f:
        f.write(b"a" * size)
    return path


def empty_file(tmpdir, name, size=IMAGE_SIZE):
    """A file with no data: one hole."""
    path = str(tmpdir.join(name))
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_empty_sparse(tmpdir, srv, fmt):
    src = str(tmpdir.join("src"))
    qemu_img_create(src, fmt, size=IMAGE_SIZE)
    upload_onto_data(tmpdir, srv, src, fmt, IMAGE_SIZE)


def write_sparse_image(tmpdir, fmt, size, *commands):
    src = str(tmpdir.join("src"))
    qemu_img_create(src, fmt, size=size)
    qemu_io(src, fmt, *commands)
    return src


def upload_onto_data(tmpdir, srv, src, fmt, size):
    dst = filled_file(tmpdir, "dst", size)
    url = prepare_transfer(srv, "file://" + dst, size=size)
    upload(src, url, srv)
    qemu_img_compare(src, dst, format1=fmt, format2="raw",
                     strict=fmt == "raw")


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_hole_at_start_sparse(tmpdir, srv, fmt):
    size = 3 * MiB
    src = write_sparse_image(tmpdir, fmt, size,
                             "write -P 0x62 %d 1M" % (size - MiB))
    upload_onto_data(tmpdir, srv, src, fmt, size)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_hole_at_middle_sparse(tmpdir, srv, fmt):
    size = 3 * MiB
    src = write_sparse_image(tmpdir, fmt, size, "write -P 0x62 0 1M",
                             "write -P 0x62 %d 1M" % (size - MiB))
    upload_onto_data(tmpdir, srv, src, fmt, size)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_hole_at_end_sparse(tmpdir, srv, fmt):
    size = 3 * MiB
    src = write_sparse_image(tmpdir, fmt, size, "write -P 0x62 0 1M")
    upload_onto_data(tmpdir, srv, src, fmt, size)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_full_sparse(tmpdir, srv, fmt):
    src = write_sparse_image(tmpdir, fmt, IMAGE_SIZE,
                             "write -P 0x62 0 %d" % IMAGE_SIZE)
    dst = filled_file(tmpdir, "dst")
    url = prepare_transfer(srv, "file://" + dst)
    upload(src, url, srv)
    qemu_img_compare(src, dst, format1=fmt, format2="raw", strict=True)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_upload_preallocated(tmpdir, srv, fmt):
    src = str(tmpdir.join("src"))
    qemu_img_create(src, fmt, size=IMAGE_SIZE)
    dst = filled_file(tmpdir, "dst")
    url = prepare_transfer(srv, "file://" + dst, sparse=False)
    upload(src, url, srv)
    qemu_img_compare(src, dst, format1=fmt, format2="raw")
    assert os.stat(dst).st_blocks * 512 == IMAGE_SIZE


@pytest.mark.parametrize("fmt,compressed", [
    ("raw", False),
    ("qcow2", False),
    ("qcow2", True),
])
def test_upload_from_ova(tmpdir, srv, fmt, compressed):
    offset = CLUSTER_SIZE
    data = b"I can eat glass and it doesn't hurt me."
    tmp = str(tmpdir.join("tmp"))
    with open(tmp, "wb") as f:
        f.truncate(IMAGE_SIZE)
        f.seek(offset)
        f.write(data)
    src = str(tmpdir.join("src"))
    qemu_img_convert(tmp, src, "raw", fmt, compressed=compressed)
    ova = str(tmpdir.join("src.ova"))
    with tarfile.open(ova, "w") as tar:
        tar.add(src, arcname=os.path.basename(src))
    dst = empty_file(tmpdir, "dst")
    url = prepare_transfer(srv, "file://" + dst)
    upload(ova, url, srv, member=os.path.basename(src))
    qemu_img_compare(src, dst, format1=fmt, format2="raw")


@pytest.mark.parametrize("disk_is_zero", [True, False])
@pytest.mark.parametrize("src_fmt", ["raw", "qcow2"])
@pytest.mark.parametrize("dst_fmt", ["raw", "qcow2"])
def test_upload_nbd(srv, nbd_server, tmpdir, src_fmt, dst_fmt, disk_is_zero):
    size = 5 * CLUSTER_SIZE
    src = str(tmpdir.join("src." + src_fmt))
    qemu_img_create(src, src_fmt, size=size)
    qemu_io(src, src_fmt,
            # Cluster 0: data.
            "write -P 0x41 0 64k",
            # Cluster 1: data, zero.
            "write -P 0 64k 64k",
            # Cluster 2: qcow2: zero cluster, raw: hole.
            "write -z -u 128k 64k",
            # Cluster 3: qcow2: zero cluster, raw: allocated.
            "write -z 192k 64k")
    dst = str(tmpdir.join("dst." + dst_fmt))
    qemu_img_create(dst, dst_fmt, size=size)
    nbd_server.image = dst
    nbd_server.fmt = dst_fmt
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    upload(src, url, srv, disk_is_zero=disk_is_zero)
    nbd_server.stop()
    qemu_img_compare(src, dst, format1=src_fmt, format2=dst_fmt,
                     strict=False)


def write_chain(tmpdir, prefix, base_fmt, size):
    base = str(tmpdir.join(prefix + "_base." + base_fmt))
    qemu_img_create(base, base_fmt, size=size)
    qemu_io(base, base_fmt, "write -P 0x61 0 64k", "write -P 0x62 64k 64k",
            "write -P 0x63 128k 64k")
    top = str(tmpdir.join(prefix + "_top.qcow2"))
    qemu_img_create(top, "qcow2", backing_file=base, backing_format=base_fmt)
    qemu_io(top, "qcow2", "write -P 0x42 64k 64k", "write -z 128k 64k")
    return base, top


@pytest.mark.parametrize("disk_is_zero", [True, False])
@pytest.mark.parametrize("base_fmt", ["raw", "qcow2"])
def test_upload_nbd_shallow(srv, nbd_server, tmpdir, base_fmt, disk_is_zero):
    size = 10 * MiB
    src_base, src_top = write_chain(tmpdir, "src", base_fmt, size)
    dst_base = str(tmpdir.join("dst_base." + base_fmt))
    qemu_img_create(dst_base, base_fmt, size=size)
    dst_top = str(tmpdir.join("dst_top.qcow2"))
    qemu_img_create(dst_top, "qcow2", backing_file=dst_base,
                    backing_format=base_fmt)

    nbd_server.image = dst_base
    nbd_server.fmt = base_fmt
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    upload(src_base, url, srv, disk_is_zero=disk_is_zero,
           backing_chain=False)
    nbd_server.stop()
    qemu_img_compare(src_base, dst_base, format1=base_fmt,
                     format2=base_fmt, strict=False)
    if base_fmt == "qcow2":
        qemu_img_compare(src_base, dst_base, format1=base_fmt,
                         format2=base_fmt, strict=True)

    nbd_server.image = dst_top
    nbd_server.fmt = "qcow2"
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    upload(src_top, url, srv, disk_is_zero=disk_is_zero,
           backing_chain=False)
    nbd_server.stop()
    qemu_img_compare(src_top, dst_top, format1="qcow2", format2="qcow2",
                     strict=False)
    if base_fmt == "qcow2":
        qemu_img_compare(src_top, dst_top, format1="qcow2", format2="qcow2",
                         strict=True)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_download_raw(tmpdir, srv, fmt):
    src = str(tmpdir.join("src"))
    with open(src, "wb") as f:
        f.truncate(IMAGE_SIZE)
        f.seek(IMAGE_SIZE // 2)
        f.write(b"data")
    url = prepare_transfer(srv, "file://" + src)
    dst = str(tmpdir.join("dst"))
    download(url, dst, srv, format=fmt)
    qemu_img_compare(src, dst, format1="raw", format2=fmt)


def test_download_qcow2_as_raw(tmpdir, srv):
    src = str(tmpdir.join("src.qcow2"))
    qemu_img_create(src, "qcow2", size=IMAGE_SIZE)
    qemu_io(src, "qcow2", "write -P 0x61 64k 64k")
    actual_size = os.path.getsize(src)
    url = prepare_transfer(srv, "file://" + src, size=actual_size)
    dst = str(tmpdir.join("dst.qcow2"))
    download(url, dst, srv, format="raw")
    qemu_img_compare(src, dst, format1="qcow2", format2="qcow2",
                     strict=True)


@pytest.mark.parametrize("base_fmt", ["raw", "qcow2"])
def test_download_shallow(srv, nbd_server, tmpdir, base_fmt):
    size = 10 * MiB
    src_base, src_top = write_chain(tmpdir, "src", base_fmt, size)
    dst_base = str(tmpdir.join("dst_base." + base_fmt))
    dst_top = str(tmpdir.join("dst_top.qcow2"))

    nbd_server.image = src_base
    nbd_server.fmt = base_fmt
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    download(url, dst_base, srv, format=base_fmt)
    nbd_server.stop()
    qemu_img_compare(src_base, dst_base, format1=base_fmt,
                     format2=base_fmt, strict=False)
    # qemu-nbd 7.2 (>= 6.0): allocation is compared too.
    qemu_img_compare(src_base, dst_base, format1=base_fmt,
                     format2=base_fmt, strict=True)

    nbd_server.image = src_top
    nbd_server.fmt = "qcow2"
    nbd_server.backing_chain = False
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    download(url, dst_top, srv, backing_file=dst_base,
             backing_format=base_fmt)
    nbd_server.stop()
    qemu_img_compare(src_top, dst_top, format1="qcow2", format2="qcow2",
                     strict=False)
    qemu_img_compare(src_top, dst_top, format1="qcow2", format2="qcow2",
                     strict=True)


def test_upload_proxy_url(tmpdir, srv):
    src = empty_file(tmpdir, "src")
    dst = empty_file(tmpdir, "dst")
    # If transfer_url is not accessible, proxy_url is used.
    transfer_url = "https://no.server:54322/images/no-ticket"
    proxy_url = prepare_transfer(srv, "file://" + dst)
    upload(src, transfer_url, srv, proxy_url=proxy_url)
    qemu_img_compare(src, dst, format1="raw", format2="raw", strict=True)


def test_upload_proxy_url_unused(tmpdir, srv):
    src = empty_file(tmpdir, "src")
    dst = empty_file(tmpdir, "dst")
    # If transfer_url is accessible, proxy_url is not used.
    transfer_url = prepare_transfer(srv, "file://" + dst)
    proxy_url = "https://no.proxy:54322/images/no-ticket"
    upload(src, transfer_url, srv, proxy_url=proxy_url)
    qemu_img_compare(src, dst, format1="raw", format2="raw", strict=True)


def test_download_proxy_url(tmpdir, srv):
    src = empty_file(tmpdir, "src")
    dst = str(tmpdir.join("dst"))
    transfer_url = "https://no.server:54322/images/no-ticket"
    proxy_url = prepare_transfer(srv, "file://" + src)
    download(transfer_url, dst, srv, format="raw", proxy_url=proxy_url)
    qemu_img_compare(src, dst, format1="raw", format2="raw")


def test_download_proxy_url_unused(tmpdir, srv):
    src = empty_file(tmpdir, "src")
    dst = str(tmpdir.join("dst"))
    transfer_url = prepare_transfer(srv, "file://" + src)
    proxy_url = "https://no.proxy:54322/images/no-ticket"
    download(transfer_url, dst, srv, format="raw", proxy_url=proxy_url)
    qemu_img_compare(src, dst, format1="raw", format2="raw")


class FakeProgress:

    def __init__(self):
        self.size = None
        self.updates = []

    def update(self, n, size):
        self.size = size
        self.updates.append(n)


def test_progress(tmpdir, srv):
    src = str(tmpdir.join("src"))
    with open(src, "wb") as f:
        f.write(b"b" * 4096)
        f.seek(IMAGE_SIZE // 2)
        f.write(b"b" * 4096)
        f.truncate(IMAGE_SIZE)
    dst = empty_file(tmpdir, "dst")
    url = prepare_transfer(srv, "file://" + dst, sparse=True)
    progress = FakeProgress()
    upload(src, url, srv, progress=progress.update)
    assert progress.size == IMAGE_SIZE
    # Note: when using multiple connections order of updates is not
    # predictable.
    assert set(progress.updates) == {
        # First write.
        4096,
        # First zero.
        IMAGE_SIZE // 2 - 4096,
        # Second write.
        4096,
        # Second zero
        IMAGE_SIZE // 2 - 4096,
    }


def test_progress_callback(tmpdir, srv):
    src = empty_file(tmpdir, "src")
    dst = empty_file(tmpdir, "dst")
    url = prepare_transfer(srv, "file://" + dst, size=IMAGE_SIZE,
                           sparse=True)
    progress = []
    upload(src, url, srv, progress=lambda n, size: progress.append(n))
    assert progress == [IMAGE_SIZE]


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_stress(srv, nbd_server, tmpdir, fmt):
    size = 10 * MiB
    src = str(tmpdir.join("src." + fmt))
    qemu_img_create(src, fmt, size=size)
    dst = str(tmpdir.join("dst." + fmt))
    qemu_img_create(dst, fmt, size=size)
    nbd_server.image = dst
    nbd_server.fmt = fmt
    nbd_server.start()
    url = prepare_transfer(srv, nbd_server.url(), size=size)
    for i in range(20):
        upload(src, url, srv)
        download(url, src, srv, format=fmt)
    nbd_server.stop()


def test_concurrent_downloads(srv, tmpdir):
    # 10 concurrent transfers, 4 connections each.
    size = 10 * MiB
    downloads = []
    try:
        for i in range(10):
            src = str(tmpdir.join(f"{i:02d}.src.qcow2"))
            qemu_img_create(src, "qcow2", size=size)
            dst = str(tmpdir.join(f"{i:02d}.dst.qcow2"))
            qemu_img_create(dst, "qcow2", size=size)
            server = NbdServer(tmpdir.path)
            server.sock = str(tmpdir.join(f"{i:02d}.sock"))
            server.image = src
            server.fmt = "qcow2"
            url = prepare_transfer(srv, server.url(), size=size)
            server.start()
            downloads.append((server, url, dst))

        with ThreadPoolExecutor(max_workers=10) as executor:
            tasks = [executor.submit(download, url, dst, srv)
                     for _, url, dst in downloads]
            for t in as_completed(tasks):
                t.result()
    finally:
        for server, _, _ in downloads:
            server.stop()
    for server, _, dst in downloads:
        qemu_img_compare(server.image, dst, format1="qcow2",
                         format2="qcow2")
