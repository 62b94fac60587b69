# test_driver_safety.py: drivers written in Python that leave vfuncs out
#
# A vfunc a role needs and a driver lacks is an error for the caller,
# never a call through NULL.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest

from gi.repository import GLib, GObject, Gio, Imgxfer


class Unreadable(Imgxfer.Backend, Imgxfer.Source):
    """A source that opens but has no pread."""

    __gtype_name__ = "TestUnreadableBackend"

    def do_open(self, cancellable):
        self.set_size(1024 * 1024)
        return True


class Unwritable(Imgxfer.Backend, Imgxfer.Destination):
    """A destination that opens writable but has no pwrite."""

    __gtype_name__ = "TestUnwritableBackend"

    def do_open(self, cancellable):
        self.set_size(1024 * 1024)
        self.set_caps(Imgxfer.BackendCaps.CAN_WRITE)
        return True


class Unopenable(Imgxfer.Backend, Imgxfer.Source):
    """A driver without open."""

    __gtype_name__ = "TestUnopenableBackend"


def opened(cls):
    backend = GObject.new(cls, url="test:x")
    backend.init(None)
    return backend


def assert_not_supported(error, vfunc):
    assert error.value.matches(Imgxfer.error_quark(),
                               Imgxfer.Error.NOT_SUPPORTED)
    assert "test:x" in error.value.message
    assert vfunc in error.value.message


def test_read_without_pread():
    backend = opened(Unreadable)
    with pytest.raises(GLib.Error) as error:
        backend.read_bytes(4096, 0, None)
    assert_not_supported(error, "pread")


def test_checksum_without_pread():
    backend = opened(Unreadable)
    with pytest.raises(GLib.Error) as error:
        Imgxfer.checksum_compute(backend, None, 0, 1, None)
    assert_not_supported(error, "pread")


def test_write_without_pwrite():
    backend = opened(Unwritable)
    with pytest.raises(GLib.Error) as error:
        backend.pwrite(b"x" * 512, 0, None)
    assert_not_supported(error, "pwrite")
    # Zeroes fall back to writing, which the driver cannot do either.
    with pytest.raises(GLib.Error) as error:
        backend.zero(0, 4096, Imgxfer.ZeroFlags.NONE, None)
    assert_not_supported(error, "pwrite")


def test_open_without_open():
    backend = GObject.new(Unopenable, url="test:x")
    with pytest.raises(GLib.Error) as error:
        backend.init(None)
    assert_not_supported(error, "open")
    assert isinstance(backend, Gio.Initable)
