# test_client_errors.py: what a user sees when a transfer cannot go well
#
# The imgxfer command against a real imgxfer serve over TLS: a ticket
# removed part-way (exit 5), a read-only ticket refusing an upload, a
# server killed part-way or stalled (the client's timeouts), a certificate
# from another CA, and the server's unix socket taken only when the server
# offers it. Slow nbdkit tickets (the delay filter) keep a transfer going
# long enough to be interrupted. An interrupted upload or download ends in
# one line on stderr and is never reported complete: --progress=json
# never says that all was transferred.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from gi.repository import Gio, GLib, Imgxfer

from conftest import MiB, run
from test_client import (Server, cli, make_certificates, srv,  # noqa: F401
                         wait_for_nbd)


class Nbdkit:
    """nbdkit on a unix socket, each request slowed by the delay filter."""

    def __init__(self, tmp_path, *args):
        self.sock = os.path.join(str(tmp_path), "nbdkit.sock")
        self.proc = subprocess.Popen(
            ["nbdkit", "-f", "-U", self.sock, "--filter=delay"] + list(args))
        try:
            wait_for_nbd(self.sock, self.proc)
        except RuntimeError:
            self.stop()
            raise

    def url(self):
        return "nbd:unix:" + self.sock

    def stop(self):
        # Requests held by the delay filter may keep it from ending.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def slow_source(tmp_path):
    server = Nbdkit(tmp_path, "pattern", "size=256M", "rdelay=40ms")
    yield server
    server.stop()


@pytest.fixture
def slow_destination(tmp_path):
    server = Nbdkit(tmp_path, "memory", "size=256M", "wdelay=40ms")
    yield server
    server.stop()


# A server whose socket file exists a second before it listens, then
# greets each client as an NBD server does.
LATE_SERVER = """
import socket, sys, time
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
time.sleep(1)
server.listen()
while True:
    client, _ = server.accept()
    client.sendall(b"NBDMAGICIHAVEOPT\\x00\\x03")
    client.recv(64)
    client.close()
"""


def test_nbd_server_waited_for_until_it_listens(tmp_path):
    sock = str(tmp_path / "late.sock")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", LATE_SERVER, sock])
    try:
        wait_for_nbd(sock, proc)
        assert time.monotonic() - start >= 1
    finally:
        proc.kill()
        proc.wait()


def imgxfer(*args, env=None, timeout=120):
    return subprocess.run((cli(),) + args, capture_output=True, text=True,
                          timeout=timeout, env=env)


def imgxfer_interrupted(action, *args):
    """imgxfer *args, which print --progress=json, with action() called
    once a progress line counts bytes transferred: the transfer is under
    way then, past the opening of its images, however loaded the machine
    is."""
    proc = subprocess.Popen((cli(),) + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if json.loads(line)["transferred"] > 0:
                action()
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       "".join(lines) + out, err)


def assert_interrupted(r, url, status, size):
    """One error line naming the URL, the last on stderr after the lines
    of the retries, and no progress line saying that all was
    transferred."""
    assert r.returncode == status, r.stderr
    *retries, error = r.stderr.splitlines()
    assert all(line.startswith("imgxfer: retrying ") for line in retries)
    assert error.startswith("imgxfer: ") and url in error, r.stderr
    assert not error.startswith("imgxfer: retrying ")
    progress = [json.loads(line) for line in r.stdout.splitlines()]
    assert all(p["transferred"] < size for p in progress), progress


def source_file(tmp_path):
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.write(b"x" * 64 * MiB)
        f.truncate(256 * MiB)
    return src


def test_ticket_deleted_mid_download(tmp_path, srv, slow_source):
    ticket = srv.add_ticket(slow_source.url(), 256 * MiB, ops=["read"])
    url = "{}/images/{}".format(srv.url, ticket)
    dst = str(tmp_path / "dst.raw")
    start = time.monotonic()
    r = imgxfer_interrupted(lambda: srv.delete_ticket(ticket), "convert",
                            "--progress=json", "--cafile", srv.ca_file, url,
                            dst)
    assert_interrupted(r, url, 5, 256 * MiB)
    assert "the ticket is gone" in r.stderr
    assert "HTTP 403" in r.stderr
    assert time.monotonic() - start < 60


def test_ticket_deleted_mid_upload(tmp_path, srv, slow_destination):
    ticket = srv.add_ticket(slow_destination.url(), 256 * MiB)
    url = "{}/images/{}".format(srv.url, ticket)
    src = source_file(tmp_path)
    start = time.monotonic()
    r = imgxfer_interrupted(lambda: srv.delete_ticket(ticket), "convert",
                            "-n", "--progress=json", "--cafile", srv.ca_file,
                            src, url)
    assert_interrupted(r, url, 5, 256 * MiB)
    assert "the ticket is gone" in r.stderr
    assert time.monotonic() - start < 60


# SIGKILL: the server does not come back, and a client that retries
# fails all the same once its retries are spent.
def test_server_killed_mid_upload(tmp_path, slow_destination):
    tmpdir = str(tmp_path / "server")
    os.mkdir(tmpdir)
    with Server(tmpdir) as server:
        ticket = server.add_ticket(slow_destination.url(), 256 * MiB)
        url = "{}/images/{}".format(server.url, ticket)
        src = source_file(tmp_path)
        start = time.monotonic()
        r = imgxfer_interrupted(server.proc.kill, "convert", "-n",
                                "--progress=json", "--cafile",
                                server.ca_file, src, url)
    assert_interrupted(r, url, 1, 256 * MiB)
    assert time.monotonic() - start < 90


def test_server_killed_mid_download(tmp_path, slow_source):
    tmpdir = str(tmp_path / "server")
    os.mkdir(tmpdir)
    with Server(tmpdir) as server:
        ticket = server.add_ticket(slow_source.url(), 256 * MiB, ops=["read"])
        url = "{}/images/{}".format(server.url, ticket)
        dst = str(tmp_path / "dst.raw")
        start = time.monotonic()
        r = imgxfer_interrupted(server.proc.kill, "convert", "--progress=json",
                                "--cafile", server.ca_file, url, dst)
    assert_interrupted(r, url, 1, 256 * MiB)
    assert time.monotonic() - start < 90


def test_read_only_ticket_refuses_upload(tmp_path, srv):
    dst = str(tmp_path / "dst.raw")
    with open(dst, "wb") as f:
        f.write(b"a" * MiB)
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.write(b"b" * MiB)
    ticket = srv.add_ticket("file://" + dst, MiB, ops=["read"])
    url = "{}/images/{}".format(srv.url, ticket)
    r = imgxfer("convert", "-n", "--cafile", srv.ca_file, src, url)
    assert r.returncode == 1, r.stderr
    assert "the ticket does not allow writing" in r.stderr
    with open(dst, "rb") as f:
        assert f.read() == b"a" * MiB


def test_wrong_ca(tmp_path, srv):
    other = str(tmp_path / "other")
    os.mkdir(other)
    other_ca = os.path.join(other, "ca.pem")
    make_certificates(other, other_ca, os.path.join(other, "cert.pem"),
                      os.path.join(other, "key.pem"))
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.truncate(MiB)
    ticket = srv.add_ticket("file://" + src, MiB)
    url = "{}/images/{}".format(srv.url, ticket)
    r = imgxfer("convert", "--cafile", other_ca, url,
                str(tmp_path / "dst.raw"))
    assert r.returncode == 1
    assert "the TLS certificate of 127.0.0.1 is not trusted" in r.stderr
    assert "unknown CA" in r.stderr
    assert not os.path.exists(tmp_path / "dst.raw")


def transfer_log(server, tmp_path):
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.write(b"c" * MiB)
    ticket = server.add_ticket("file://" + src, MiB, ops=["read"])
    url = "{}/images/{}".format(server.url, ticket)
    dst = str(tmp_path / "dst.raw")
    r = imgxfer("convert", "-v", "--cafile", server.ca_file, url, dst)
    assert r.returncode == 0, r.stderr
    run("cmp", src, dst)
    return r.stderr


def test_unix_socket_used_when_local(tmp_path, srv):
    log = transfer_log(srv, tmp_path)
    assert "using its unix socket " + srv.local in log


def test_unix_socket_not_used_when_not_offered(tmp_path):
    tmpdir = str(tmp_path / "server")
    os.mkdir(tmpdir)
    with Server(tmpdir, local=False) as server:
        log = transfer_log(server, tmp_path)
    assert "unix socket" not in log


def test_remote_checksum(tmp_path, srv):
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.write(b"d" * MiB)
        f.seek(5 * MiB)
        f.write(b"e" * 100)
    size = os.path.getsize(src)
    ticket = srv.add_ticket("file://" + src, size, ops=["read"])
    url = "{}/images/{}".format(srv.url, ticket)
    for args in ([], ["-a", "sha256", "-b", "1m"]):
        local = imgxfer("checksum", *args, src)
        remote = imgxfer("checksum", "--cafile", srv.ca_file, *args, url)
        assert local.returncode == 0 and remote.returncode == 0
        assert local.stdout.split()[0] == remote.stdout.split()[0]


def test_download_incremental(tmp_path, srv):
    # Cluster 0 written before the bitmap, clusters 2 and 4 after it.
    image = str(tmp_path / "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", image, "1M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 0 64k", image)
    run("qemu-img", "bitmap", "--add", image, "b0")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x62 128k 64k",
        "-c", "write -P 0x63 256k 64k", image)
    ticket = srv.add_ticket("file://" + image, MiB, ops=["read"],
                            extra=["--format", "qcow2", "--dirty",
                                   "--bitmap", "b0"])
    url = "{}/images/{}".format(srv.url, ticket)
    dst = str(tmp_path / "incremental.qcow2")
    o = Imgxfer.TransferOptions.new()
    o.set_ca_file(srv.ca_file)
    o.set_incremental(True)
    Imgxfer.download(url, dst, o, None)

    allocated = [(e["start"], e["length"]) for e in json.loads(
        run("qemu-img", "map", "--output=json", "-f", "qcow2", dst).stdout)
        if e["data"]]
    assert allocated == [(128 * 1024, 64 * 1024), (256 * 1024, 64 * 1024)]
    out = str(tmp_path / "incremental.raw")
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", dst, out)
    with open(out, "rb") as f:
        data = f.read()
    assert data[:64 * 1024] == b"\0" * 64 * 1024
    assert data[128 * 1024:192 * 1024] == b"b" * 64 * 1024
    assert data[256 * 1024:320 * 1024] == b"c" * 64 * 1024


@contextlib.contextmanager
def stalling_server(tmp_path, image, ops):
    """imgxfer serve with a ticket for @image, and a function that makes
    it stop reading and sending (SIGSTOP); thawed at the end."""
    tmpdir = str(tmp_path / "server")
    os.mkdir(tmpdir)
    with Server(tmpdir) as server:
        ticket = server.add_ticket(image.url(), 256 * MiB, ops=ops)
        try:
            yield (server, "{}/images/{}".format(server.url, ticket),
                   lambda: os.kill(server.proc.pid, signal.SIGSTOP))
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)


def assert_timed_out(r, start, url):
    elapsed = time.monotonic() - start
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert url in r.stderr and "timed out" in r.stderr
    # The request's timeout and the 1 s probe for the ticket, well below
    # the default of 60 s.
    assert 1 <= elapsed < 20, elapsed
    # Nothing said that all of it went through.
    for line in r.stdout.splitlines():
        progress = json.loads(line)
        assert progress["transferred"] < progress["size"]


def test_server_stops_reading_mid_upload(tmp_path, slow_destination):
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.write(b"x" * 64 * MiB)
        f.truncate(256 * MiB)
    with stalling_server(tmp_path, slow_destination,
                         ["read", "write"]) as (server, url, freeze):
        start = time.monotonic()
        r = imgxfer_interrupted(freeze, "convert", "-n", "--cafile",
                                server.ca_file, "--progress=json",
                                "--timeout", "1", src, url)
    assert_timed_out(r, start, url)


def test_server_stops_sending_mid_download(tmp_path, slow_source):
    dst = str(tmp_path / "dst.raw")
    with stalling_server(tmp_path, slow_source, ["read"]) as (server, url,
                                                              freeze):
        start = time.monotonic()
        r = imgxfer_interrupted(freeze, "convert", "--cafile",
                                server.ca_file, "--progress=json",
                                "--timeout", "1", url, dst)
    assert_timed_out(r, start, url)


def test_transfer_timeout_option(tmp_path, slow_source):
    o = Imgxfer.TransferOptions.new()
    o.set_format("raw")
    o.set_timeout(1)
    assert o.get_timeout() == 1
    with stalling_server(tmp_path, slow_source, ["read"]) as (server, url,
                                                              freeze):
        frozen = []

        def on_progress(length, total):
            # The first bytes came: the transfer is under way.
            if not frozen:
                frozen.append(True)
                freeze()

        o.set_progress_func(on_progress)
        o.set_ca_file(server.ca_file)
        start = time.monotonic()
        with pytest.raises(GLib.Error) as e:
            Imgxfer.download(url, str(tmp_path / "dst.raw"), o, None)
    assert e.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    assert url in e.value.message and "timed out" in e.value.message
    assert time.monotonic() - start < 20

def test_tls_handshake_timeout(tmp_path):
    # The kernel completes the TCP handshake of a socket that listens;
    # nobody accepts, so the TLS handshake never gets an answer.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = "https://127.0.0.1:{}/images/t".format(
            listener.getsockname()[1])
        start = time.monotonic()
        r = imgxfer("info", "--timeout", "1", url)
    assert r.returncode == 1, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert "127.0.0.1" in r.stderr and "timed out" in r.stderr
    assert 1 <= time.monotonic() - start < 20


@pytest.mark.parametrize("value", ["0", "-1", "soon", "1.5"])
def test_bad_timeout(value):
    r = imgxfer("info", "--timeout", value, "https://127.0.0.1:1/images/t")
    assert r.returncode == 2, r.stderr
    assert "--timeout must be a number of seconds" in r.stderr
