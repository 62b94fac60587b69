# test_image.py: opening, reading, describing images from Python
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest
from gi.repository import GLib, Gio, Imgxfer, Json

from conftest import MiB, pattern, run, write_at

ZERO = Imgxfer.ExtentFlags.ZERO
DATA = Imgxfer.ExtentFlags.DATA


def test_open_and_read(sparse_raw):
    source = Imgxfer.open(str(sparse_raw), None, None)

    assert source.get_url() == str(sparse_raw)
    assert source.get_size() == 8 * MiB
    assert isinstance(source, Imgxfer.Source)
    data = source.read_bytes(64 * 1024, 1 * MiB, None).get_data()
    assert data == pattern(64 * 1024)
    assert source.read_bytes(4096, 0, None).get_data() == bytes(4096)


def test_read_beyond_end_is_an_error(sparse_raw):
    source = Imgxfer.open(str(sparse_raw), None, None)

    with pytest.raises(GLib.Error) as raised:
        source.read_bytes(8192, 8 * MiB - 4096, None)
    assert raised.value.matches(Imgxfer.error_quark(),
                                Imgxfer.Error.INVALID_ARGUMENT)
    assert str(sparse_raw) in raised.value.message


def test_extents_of_sparse_file(sparse_raw):
    source = Imgxfer.open(str(sparse_raw), None, None)

    extents = Imgxfer.image_extents(source, Imgxfer.ExtentContext.ZERO, None)

    # A hole in a raw file reads as zeroes: ZERO, never HOLE.
    assert [(e.start, e.length, e.flags) for e in extents] == [
        (0, 1 * MiB, ZERO),
        (1 * MiB, 64 * 1024, DATA),
        (1 * MiB + 64 * 1024, 5 * MiB - 64 * 1024, ZERO),
        (6 * MiB, 4096, DATA),
        (6 * MiB + 4096, 2 * MiB - 4096, ZERO),
    ]
    assert all(isinstance(e, Imgxfer.Extent) for e in extents)


def test_extents_to_json(sparse_raw):
    source = Imgxfer.open(str(sparse_raw), None, None)
    extents = Imgxfer.image_extents(source, Imgxfer.ExtentContext.ZERO, None)

    node = Imgxfer.extents_to_json(extents, Imgxfer.ExtentContext.ZERO)

    first = node.get_array().get_object_element(0)
    assert node.get_array().get_length() == 5
    assert first.get_int_member("length") == 1 * MiB
    assert first.get_boolean_member("zero")
    assert not first.get_boolean_member("hole")


def make_qcow2(tmp_path, size=16 * MiB):
    """A qcow2 image with 1 MiB of data at 2 MiB, through qemu-img."""
    raw = tmp_path / "data.raw"
    with open(raw, "wb") as f:
        f.truncate(size)
    write_at(raw, 2 * MiB, pattern(1 * MiB))
    qcow2 = tmp_path / "image.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
        str(qcow2))
    return qcow2


def test_info_of_qcow2(tmp_path):
    qcow2 = make_qcow2(tmp_path)

    node = Imgxfer.image_info(str(qcow2), None, None)

    info = node.get_object()
    assert info.get_string_member("format") == "qcow2"
    assert info.get_int_member("virtual-size") == 16 * MiB
    assert info.get_int_member("cluster-size") == 64 * 1024
    assert '"format":"qcow2"' in Json.to_string(node, False)


def test_measure_qcow2(tmp_path):
    qcow2 = make_qcow2(tmp_path)
    options = Imgxfer.OpenOptions.new()
    options.set_format("qcow2")

    node = Imgxfer.image_measure(str(qcow2), options, "qcow2", None)

    measure = node.get_object()
    # 1 MiB of data plus metadata; a full image would need all 16 MiB.
    assert 1 * MiB < measure.get_int_member("required") < 2 * MiB
    assert measure.get_int_member("fully-allocated") > 16 * MiB


def test_open_qcow2_reads_guest_data(tmp_path):
    qcow2 = make_qcow2(tmp_path)

    source = Imgxfer.open(str(qcow2), None, None)

    assert source.get_size() == 16 * MiB
    assert source.read_bytes(4096, 2 * MiB, None).get_data() == \
        pattern(4096)


def test_unknown_scheme_is_an_imgxfer_error():
    url = "foo://example.invalid/disk"

    with pytest.raises(GLib.Error) as raised:
        Imgxfer.open(url, None, None)

    error = raised.value
    assert error.domain == "imgxfer-error-quark"
    assert error.matches(Imgxfer.error_quark(), Imgxfer.Error.UNKNOWN_URL)
    assert url in error.message


def test_missing_file_is_an_io_error(tmp_path):
    path = str(tmp_path / "missing.raw")

    with pytest.raises(GLib.Error) as raised:
        Imgxfer.open(path, None, None)

    assert raised.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)
    assert path in raised.value.message


def test_open_options_accessors():
    options = Imgxfer.OpenOptions.new()
    assert options.get_format() is None
    options.set_format("qcow2")
    options.set_writable(True)
    options.set_connections(3)

    copy = options.copy()
    options.set_format(None)

    assert copy.get_format() == "qcow2"
    assert copy.get_writable()
    assert copy.get_connections() == 3
    assert options.get_format() is None


def test_driver_list(cli):
    drivers = Imgxfer.driver_list()

    names = [gtype.name for gtype in drivers]
    assert "ImgxferFileBackend" in names
    assert all(gtype.is_a(Imgxfer.Backend) for gtype in drivers)
    assert Imgxfer.driver_lookup_name("file") in drivers
    assert Imgxfer.driver_lookup_format("qcow2") in drivers
    assert Imgxfer.driver_lookup_url("nbd://localhost/export") in drivers
    # The command lists the same registry, one driver a line under a
    # header.
    lines = run(cli, "drivers").stdout.splitlines()
    assert lines[0].split() == ["Driver", "Opens", "From"]
    assert len(lines) - 1 == len(drivers)
