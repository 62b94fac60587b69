# test_backend_subclass.py: an application's own image source, in Python
#
# A subclass of Imgxfer.Backend implementing Imgxfer.Source with
# do_read_bytes (generated data here) is opened and copied in-process by
# the library's engine, its worker threads calling back into Python. A
# source that cannot read, or reads short, fails with an IMGXFER_ERROR,
# never a crash, and the copy is not reported complete.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest
from gi.repository import GLib, Imgxfer

from conftest import MiB, pattern
from seedutil import blkhash_bytes


class Generated(Imgxfer.Backend, Imgxfer.Source):
    """8 MiB of pattern(): byte i is i % 251."""
    __gtype_name__ = "TestGeneratedSource"

    def do_open(self, cancellable):
        self.set_size(8 * MiB)
        return True

    def do_read_bytes(self, length, offset, cancellable):
        data = pattern(offset % 251 + length)[offset % 251:]
        return GLib.Bytes.new(data)


class NoRead(Imgxfer.Backend, Imgxfer.Source):
    __gtype_name__ = "TestNoReadSource"

    def do_open(self, cancellable):
        self.set_size(MiB)
        return True


# Not a subclass of Generated: PyGObject would install this read_bytes
# in Generated's interface table too.
class ShortRead(Imgxfer.Backend, Imgxfer.Source):
    __gtype_name__ = "TestShortReadSource"

    def do_open(self, cancellable):
        self.set_size(MiB)
        return True

    def do_read_bytes(self, length, offset, cancellable):
        return GLib.Bytes.new(bytes(length // 2))


def open_source(cls, url="generated:"):
    source = cls(url=url)
    source.init(None)
    return source


def test_generated_source_reads():
    source = open_source(Generated)

    assert source.get_size() == 8 * MiB
    assert source.read_bytes(4096, 1000, None).get_data() == \
        pattern(1000 + 4096)[1000:]


def test_generated_source_copied_in_process(tmp_path):
    source = open_source(Generated)
    path = tmp_path / "copy.raw"
    dst = Imgxfer.create(str(path), "raw", source.get_size(), None, None,
                         None, None)
    copy = Imgxfer.Copy.new(source, dst)
    lengths = []
    # Called from the worker threads, each of which calls do_read_bytes.
    copy.set_progress_func(lengths.append)

    copy.run(None)
    dst.close(Imgxfer.CloseFlags.FLUSH, None)

    assert path.read_bytes() == pattern(8 * MiB)
    assert sum(lengths) == 8 * MiB
    assert Imgxfer.checksum_compute(source, None, 0, 0, None) == \
        blkhash_bytes(pattern(8 * MiB))


def test_copy_async_with_main_loop(tmp_path):
    source = open_source(Generated)
    path = tmp_path / "copy.raw"
    dst = Imgxfer.create(str(path), "raw", source.get_size(), None, None,
                         None, None)
    copy = Imgxfer.Copy.new(source, dst)
    loop = GLib.MainLoop()
    result = []
    progress = []
    copy.connect("progress", lambda copy, n, total: progress.append(n))

    def finished(copy, res):
        result.append(copy.run_finish(res))
        loop.quit()

    copy.run_async(None, finished)
    GLib.timeout_add_seconds(30, loop.quit)
    loop.run()

    assert result == [True]
    assert progress[-1] == 8 * MiB
    assert path.read_bytes() == pattern(8 * MiB)


def test_source_without_read_is_an_error(tmp_path):
    source = open_source(NoRead, "noread:")

    with pytest.raises(GLib.Error) as raised:
        source.read_bytes(4096, 0, None)

    assert raised.value.matches(Imgxfer.error_quark(),
                                Imgxfer.Error.NOT_SUPPORTED)
    assert "noread:" in raised.value.message
    assert "read_bytes" in raised.value.message


def test_short_read_fails_the_copy(tmp_path):
    source = open_source(ShortRead, "short:")
    dst = Imgxfer.create(str(tmp_path / "copy.raw"), "raw",
                         source.get_size(), None, None, None, None)

    with pytest.raises(GLib.Error) as raised:
        Imgxfer.Copy.new(source, dst).run(None)

    assert raised.value.matches(Imgxfer.error_quark(),
                                Imgxfer.Error.SHORT_READ)
    assert "short:" in raised.value.message


class Sink(Imgxfer.Backend, Imgxfer.Destination):
    """8 MiB kept in memory; PyGObject hands do_pwrite the buffer as bytes
    because imgxfer_destination_pwrite() is its annotated invoker."""
    __gtype_name__ = "TestSinkDestination"

    def do_open(self, cancellable):
        self.set_size(8 * MiB)
        self.set_caps(Imgxfer.BackendCaps.CAN_WRITE)
        self.data = bytearray(8 * MiB)
        return True

    def do_pwrite(self, buffer, length, offset, cancellable):
        assert isinstance(buffer, bytes) and len(buffer) == length
        self.data[offset:offset + length] = buffer
        return True


def test_python_destination_receives_bytes():
    source = open_source(Generated)
    sink = open_source(Sink, "sink:")

    # One connection: the sink allows no more, so no clone is made.
    Imgxfer.Copy.new(source, sink).run(None)

    assert bytes(sink.data) == pattern(8 * MiB)
