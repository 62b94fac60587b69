/* tar-driver.c: OVA/tar members read in place
 *
 * Archives are made by Python's tarfile and by GNU tar, in the ustar, GNU
 * and pax formats, with long names and pax headers; every member's offset
 * and size must be what Python's tarfile reports (offset_data), and its
 * bytes exactly those of the file put in. Bad archives must fail with a
 * one-line message naming the archive, never give wrong data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "drivers/tar/imgxfer-tar-archive.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define PYTHON "/usr/bin/python3"

/* Creates ARCHIVE from the files named relative to SOURCE, in FORMAT
 * (ustar, gnu, pax; pax archives also get a long pax comment). */
static const char make_tar_py[]
    = "import sys, tarfile\n"
      "archive, fmt, source, names = sys.argv[1], sys.argv[2], sys.argv[3], "
      "sys.argv[4:]\n"
      "formats = {'ustar': tarfile.USTAR_FORMAT, 'gnu': tarfile.GNU_FORMAT,\n"
      "           'pax': tarfile.PAX_FORMAT}\n"
      "headers = {'comment': 'x' * 700} if fmt == 'pax' else {}\n"
      "with tarfile.open(archive, 'w', format=formats[fmt],\n"
      "                  pax_headers=headers) as t:\n"
      "    for n in names:\n"
      "        t.add(source + '/' + n, arcname=n, recursive=False)\n";

/* Prints "offset_data size name" for each regular member of ARCHIVE. */
static const char offsets_py[]
    = "import sys, tarfile\n"
      "with tarfile.open(sys.argv[1]) as t:\n"
      "    for m in t.getmembers():\n"
      "        if m.isreg():\n"
      "            print(m.offset_data, m.size, m.name)\n";

typedef struct
{
  const char *name;
  gsize size;
} Member;

static const char long_component[]
    = "a-file-name-longer-than-the-hundred-bytes-of-a-ustar-name-field-"
      "which-gnu-and-pax-store-in-extra-headers-before-the-member.img";
static const char long_path[]
    = "a-directory-of-sixty-characters-or-so-to-fill-the-prefix-field/"
      "and-a-file-of-sixty-characters-to-pass-one-hundred-bytes.img";

/* Sizes around the 512-byte tar blocks, and one that is not small. */
static const Member raw_members[] = {
  { "empty.img", 0 },
  { "one.img", 1 },
  { "block.img", 512 },
  { "odd.img", 513 },
  { "big.img", MiB + 1 },
  { long_path, 1000 },
};

/* Byte i of a member is a function of i and of the member's name, so a
 * range read from the wrong place cannot match. */
static guint8 *
member_bytes (const char *name, gsize size)
{
  guint8 *bytes = g_malloc (MAX (size, 1));
  guint seed = g_str_hash (name);

  for (gsize i = 0; i < size; i++)
    bytes[i] = (i + seed) % 251;
  return bytes;
}

static void
write_member (const char *source, const char *name, gsize size)
{
  g_autofree char *path = g_build_filename (source, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree guint8 *bytes = member_bytes (name, size);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, (const char *)bytes, size, &error);
  g_assert_no_error (error);
}

/* Makes @archive from @members written under @dir/src, with Python's
 * tarfile or with GNU tar. */
static void
make_archive (const char *dir,
              const char *archive,
              const char *maker,
              const char *format,
              const Member *members,
              guint n_members)
{
  g_autofree char *source = g_build_filename (dir, "src", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n_members; i++)
    write_member (source, members[i].name, members[i].size);

  if (g_str_equal (maker, "python"))
    {
      g_ptr_array_add (argv, g_strdup (PYTHON));
      g_ptr_array_add (argv, g_strdup ("-c"));
      g_ptr_array_add (argv, g_strdup (make_tar_py));
      g_ptr_array_add (argv, g_strdup (archive));
      g_ptr_array_add (argv, g_strdup (format));
      g_ptr_array_add (argv, g_strdup (source));
    }
  else
    {
      g_ptr_array_add (argv, g_strdup ("tar"));
      g_ptr_array_add (argv, g_strdup_printf ("--format=%s", format));
      if (g_str_equal (format, "pax"))
        g_ptr_array_add (argv, g_strdup ("--pax-option=comment=a pax "
                                         "comment before every member"));
      g_ptr_array_add (argv, g_strdup ("-cf"));
      g_ptr_array_add (argv, g_strdup (archive));
      g_ptr_array_add (argv, g_strdup ("-C"));
      g_ptr_array_add (argv, g_strdup (source));
    }
  for (guint i = 0; i < n_members; i++)
    g_ptr_array_add (argv, g_strdup (members[i].name));
  g_ptr_array_add (argv, NULL);

  test_run_ok ((const char *const *)argv->pdata);
}

/* Python's view of @archive: name => "offset size". */
static GHashTable *
python_offsets (const char *archive)
{
  const char *argv[] = { PYTHON, "-c", offsets_py, archive, NULL };
  GHashTable *offsets = g_hash_table_new_full (g_str_hash, g_str_equal,
                                               g_free, g_free);
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_cmpint (test_run (argv, &out, NULL), ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL && *lines[i] != '\0'; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], " ", 3);

      g_assert_cmpuint (g_strv_length (fields), ==, 3);
      g_hash_table_replace (offsets, g_strdup (fields[2]),
                            g_strdup_printf ("%s %s", fields[0], fields[1]));
    }
  return offsets;
}

/* Where Python's tarfile says the data of @member starts. */
static guint64
python_offset (const char *archive, const char *member)
{
  g_autoptr (GHashTable) offsets = python_offsets (archive);
  const char *entry = g_hash_table_lookup (offsets, member);

  g_assert_nonnull (entry);
  return g_ascii_strtoull (entry, NULL, 10);
}

static ImgxferBackend *
open_member (const char *archive, const char *member, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

  imgxfer_open_options_set_member (options, member);
  imgxfer_open_options_set_format (options, "raw");
  return imgxfer_open (archive, options, NULL, error);
}

/* A member is seen at its size rounded up to 512, the tail zeroes. */
static void
assert_reads_bytes (ImgxferBackend *backend, const char *name, gsize size)
{
  gsize seen = (size + 511) & ~(gsize)511;
  g_autofree guint8 *expected = g_malloc0 (MAX (seen, 1));
  g_autofree guint8 *member = member_bytes (name, size);
  g_autofree guint8 *actual = g_malloc (MAX (seen, 1));
  g_autoptr (GError) error = NULL;

  memcpy (expected, member, size);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, seen);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), actual, seen,
                                       0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (actual, seen, expected, seen);
}

/* Every member opens at Python's offset, with Python's size, and reads
 * back exactly the bytes that were put in. */
static void
assert_members_match_python (const char *archive,
                             const Member *members,
                             guint n_members)
{
  g_autoptr (GHashTable) offsets = python_offsets (archive);

  for (guint i = 0; i < n_members; i++)
    {
      g_autoptr (ImgxferBackend) backend = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *path = NULL;
      g_autofree char *ours = NULL;
      guint64 offset, size;

      backend = open_member (archive, members[i].name, &error);
      g_assert_no_error (error);
      g_assert_true (imgxfer_backend_get_local_file (backend, &path, &offset,
                                                     &size));
      g_assert_cmpstr (path, ==, archive);
      ours = g_strdup_printf ("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
                              offset, size);
      g_assert_cmpstr (ours, ==, g_hash_table_lookup (offsets,
                                                      members[i].name));
      assert_reads_bytes (backend, members[i].name, members[i].size);
    }
}

static void
check_offsets (const char *maker, const char *format)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (Member));

  g_array_append_vals (members, raw_members, G_N_ELEMENTS (raw_members));
  /* ustar has no room for a long name without a '/' to split it at. */
  if (!g_str_equal (format, "ustar"))
    g_array_append_val (members, ((Member){ long_component, 3000 }));

  make_archive (dir, archive, maker, format, (Member *)members->data,
                members->len);
  assert_members_match_python (archive, (Member *)members->data,
                               members->len);
  test_tmpdir_free (dir);
}

static void
test_offsets_python_ustar (void)
{
  check_offsets ("python", "ustar");
}

static void
test_offsets_python_gnu (void)
{
  check_offsets ("python", "gnu");
}

static void
test_offsets_python_pax (void)
{
  check_offsets ("python", "pax");
}

static void
test_offsets_gnu_tar_ustar (void)
{
  check_offsets ("gnu-tar", "ustar");
}

static void
test_offsets_gnu_tar_gnu (void)
{
  check_offsets ("gnu-tar", "gnu");
}

static void
test_offsets_gnu_tar_pax (void)
{
  check_offsets ("gnu-tar", "pax");
}

/* A UTF-8 name, in a pax header or as raw header bytes (GNU format), is
 * found at the right offset whatever the locale: libarchive converts
 * names through it, and cannot in the C locale (ARCHIVE_WARN). */
static void
test_offsets_utf8_name (void)
{
  static const Member members[] = { { "disque-\xc3\xa9t\xc3\xa9.img", 700 },
                                    { "after.img", 1500 } };
  static const char *const formats[] = { "pax", "gnu" };
  static const char *const locales[] = { "C", "C.UTF-8" };
  g_autofree char *saved = g_strdup (setlocale (LC_ALL, NULL));

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      char *dir = test_tmpdir_new ();
      g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);

      make_archive (dir, archive, "python", formats[f], members,
                    G_N_ELEMENTS (members));
      for (guint l = 0; l < G_N_ELEMENTS (locales); l++)
        {
          g_assert_nonnull (setlocale (LC_ALL, locales[l]));
          assert_members_match_python (archive, members,
                                       G_N_ELEMENTS (members));
        }
      setlocale (LC_ALL, saved);
      test_tmpdir_free (dir);
    }
}

/* Writes ARCHIVE in FORMAT with a member "huge.img" of SIZE bytes whose
 * data is left a hole, then a member "after.img" holding DATA: sizes and
 * offsets past 8 GiB (base-256 numbers in GNU headers, pax "size")
 * without writing gigabytes. */
static const char huge_tar_py[]
    = "import sys, tarfile\n"
      "archive, fmt, size, data = sys.argv[1], sys.argv[2], "
      "int(sys.argv[3]), sys.argv[4].encode()\n"
      "formats = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}\n"
      "def header(name, n):\n"
      "    info = tarfile.TarInfo(name)\n"
      "    info.size = n\n"
      "    return info.tobuf(formats[fmt], 'utf-8', 'surrogateescape')\n"
      "with open(archive, 'wb') as f:\n"
      "    f.write(header('huge.img', size))\n"
      "    f.seek(size + (-size % 512), 1)\n"
      "    f.write(header('after.img', len(data)))\n"
      "    f.write(data + bytes(-len(data) % 512 + 1024))\n";

static void
check_huge_member (const char *format)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                           (guint64)9 * 1024 * MiB + 100);
  const char *argv[] = { PYTHON, "-c", huge_tar_py, archive, format, size,
                         "bytes after nine gigabytes", NULL };
  static const guint8 zeroes[4096] = { 0 };
  g_autoptr (GHashTable) offsets = NULL;
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *ours = NULL;
  guint64 offset, length;
  guint8 buffer[4096];

  test_run_ok (argv);
  offsets = python_offsets (archive);

  backend = open_member (archive, "huge.img", &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_backend_get_local_file (backend, NULL, &offset,
                                                 &length));
  ours = g_strdup_printf ("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, offset,
                          length);
  g_assert_cmpstr (ours, ==, g_hash_table_lookup (offsets, "huge.img"));
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                       4096, length - 4096, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 4096, zeroes, 4096);
  g_clear_object (&backend);

  backend = open_member (archive, "after.img", &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_backend_get_local_file (backend, NULL, &offset,
                                                 &length));
  g_free (ours);
  ours = g_strdup_printf ("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, offset,
                          length);
  g_assert_cmpstr (ours, ==, g_hash_table_lookup (offsets, "after.img"));
  g_assert_cmpuint (offset, >, (guint64)9 * 1024 * MiB);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                       length, 0, NULL, &error));
  g_assert_cmpmem (buffer, length, argv[6], strlen (argv[6]));

  test_tmpdir_free (dir);
}

static void
test_offsets_huge_gnu (void)
{
  check_huge_member ("gnu");
}

static void
test_offsets_huge_pax (void)
{
  check_huge_member ("pax");
}

/* Partial reads land on the right bytes, and a clone reads the same. */
static void
test_read_ranges_and_clone (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree guint8 *expected = member_bytes ("big.img", MiB + 1);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[4096];

  make_archive (dir, archive, "python", "gnu", raw_members,
                G_N_ELEMENTS (raw_members));
  backend = open_member (archive, "big.img", &error);
  g_assert_no_error (error);
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  /* Seen at its size rounded up to 512. */
  g_assert_cmpuint (imgxfer_backend_get_size (clone), ==, MiB + 512);

  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (clone), buffer, 4096,
                                       MiB + 1 - 4096, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 4096, expected + MiB + 1 - 4096, 4096);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 100,
                                       12345, NULL, &error));
  g_assert_cmpmem (buffer, 100, expected + 12345, 100);

  /* The tail of the last sector reads as zeroes, not as the archive's
   * padding; reading past it, into the next member, is refused. */
  memset (buffer, 'x', sizeof buffer);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 512,
                                       MiB, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 1, expected + MiB, 1);
  g_assert_true (buffer[1] == 0 && memcmp (buffer + 1, buffer + 2, 510) == 0);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer, 2,
                                        MiB + 511, NULL, &error));
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);

  test_tmpdir_free (dir);
}

/* With the direct option (O_DIRECT) the bytes are the same, also for a
 * member ending at the very end of the file, where the aligned read
 * comes short. */
static void
test_read_direct (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  static const Member members[] = { { "big.img", MiB + 1 },
                                    { "block.img", 512 } };
  g_autofree guint8 *expected = member_bytes ("big.img", MiB + 1);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[3000];

  make_archive (dir, archive, "python", "ustar", members,
                G_N_ELEMENTS (members));
  g_assert_cmpint (truncate (archive,
                             python_offset (archive, "block.img") + 512),
                   ==, 0);

  imgxfer_open_options_set_direct (options, TRUE);
  imgxfer_open_options_set_format (options, "raw");
  imgxfer_open_options_set_member (options, "big.img");
  backend = imgxfer_open (archive, options, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      g_test_skip (error->message);
      test_tmpdir_free (dir);
      return;
    }
  g_assert_no_error (error);
  assert_reads_bytes (backend, "big.img", MiB + 1);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                       sizeof buffer, 4095, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, sizeof buffer, expected + 4095, sizeof buffer);
  g_clear_object (&backend);

  imgxfer_open_options_set_member (options, "block.img");
  backend = imgxfer_open (archive, options, NULL, &error);
  g_assert_no_error (error);
  assert_reads_bytes (backend, "block.img", 512);

  test_tmpdir_free (dir);
}

static guint
count_open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Closing releases the archive, shared with the clones, when the last of
 * them closes, while the objects still live. */
static void
test_close_releases_archive (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  static const Member members[] = { { "disk.img", 4096 } };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (ImgxferBackend) clone = NULL;
  g_autoptr (GError) error = NULL;
  guint before;
  guint8 byte;

  make_archive (dir, archive, "python", "ustar", members,
                G_N_ELEMENTS (members));
  before = count_open_fds ();
  backend = open_member (archive, "disk.img", &error);
  g_assert_no_error (error);
  clone = imgxfer_backend_clone (backend, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_open_fds (), >, before);

  g_assert_true (
      imgxfer_backend_close (backend, IMGXFER_CLOSE_FLUSH, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (imgxfer_backend_get_local_file (backend, NULL, NULL, NULL));
  assert_reads_bytes (clone, "disk.img", 4096);

  g_assert_true (
      imgxfer_backend_close (clone, IMGXFER_CLOSE_NONE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_open_fds (), ==, before);
  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (clone), &byte, 1, 0,
                                        NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  test_tmpdir_free (dir);
}

/* GNU tar names members "./disk.img" when given "./disk.img". */
static void
test_dot_slash_name (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *source = g_build_filename (dir, "src", NULL);
  const char *argv[] = { "tar", "-cf", archive, "-C", source, "./disk.img",
                         NULL };
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  write_member (source, "disk.img", 2000);
  test_run_ok (argv);
  backend = open_member (archive, "disk.img", &error);
  g_assert_no_error (error);
  assert_reads_bytes (backend, "disk.img", 2000);
  test_tmpdir_free (dir);
}

/* tar:///path?member=NAME with a percent-encoded name. */
static void
test_tar_url (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "my vm.ova", NULL);
  static const Member members[] = { { "disk 1&x=y%.img", 5000 },
                                    { "disk2.img", 10 } };
  g_autofree char *escaped_path = NULL;
  g_autofree char *escaped_member = NULL;
  g_autofree char *url = NULL;
  g_autofree char *bad_url = NULL;
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  make_archive (dir, archive, "python", "ustar", members,
                G_N_ELEMENTS (members));
  escaped_path = g_uri_escape_string (archive, "/", FALSE);
  escaped_member = g_uri_escape_string (members[0].name, NULL, FALSE);
  url = g_strdup_printf ("tar://%s?member=%s", escaped_path, escaped_member);

  g_assert_true (imgxfer_driver_lookup_url (url, NULL)
                 == imgxfer_driver_lookup_name ("tar"));
  backend = imgxfer_open (url, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_reads_bytes (backend, members[0].name, members[0].size);
  g_clear_object (&backend);

  /* A misspelt parameter is an error, not a silently missing member. */
  bad_url = g_strdup_printf ("tar://%s?memebr=disk2.img", escaped_path);
  backend = imgxfer_open (bad_url, NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "memebr"));
  g_clear_error (&error);

  /* No member at all. */
  g_free (bad_url);
  bad_url = g_strdup_printf ("tar://%s", escaped_path);
  backend = imgxfer_open (bad_url, NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Two members: which one is meant is not guessed. */
  g_free (bad_url);
  bad_url = g_strdup_printf ("tar://%s?member=%s&member=disk2.img",
                             escaped_path, escaped_member);
  backend = imgxfer_open (bad_url, NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "more than once"));
  g_clear_error (&error);

  /* Nor when the option names one and the URL another, or the same. */
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();

      imgxfer_open_options_set_member (options, members[i].name);
      backend = imgxfer_open (url, options, NULL, &error);
      g_assert_null (backend);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "given twice"));
      g_assert_nonnull (strstr (error->message, members[i].name));
      g_clear_error (&error);
    }

  test_tmpdir_free (dir);
}

static void
assert_one_line_error (const GError *error,
                       gint code,
                       const char *archive,
                       const char *text)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, IMGXFER_ERROR, code);
  g_assert_nonnull (strstr (error->message, archive));
  g_assert_nonnull (strstr (error->message, text));
  g_assert_null (strchr (error->message, '\n'));
}

/* Opening @member of @archive, and listing @archive when @list_fails,
 * fail with @code and a message holding @text. */
static void
assert_open_fails (const char *archive,
                   const char *member,
                   gboolean list_fails,
                   gint code,
                   const char *text)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (JsonNode) list = NULL;
  g_autoptr (GError) error = NULL;

  backend = open_member (archive, member, &error);
  g_assert_null (backend);
  assert_one_line_error (error, code, archive, text);
  g_clear_error (&error);

  list = imgxfer_archive_list (archive, NULL, &error);
  if (list_fails)
    {
      g_assert_null (list);
      assert_one_line_error (error, code, archive, text);
    }
  else
    g_assert_no_error (error);
}

static void
test_error_member_not_found (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autoptr (GArray) many = g_array_new (FALSE, FALSE, sizeof (Member));

  make_archive (dir, archive, "python", "gnu", raw_members, 3);
  assert_open_fails (archive, "disk.qcow2", FALSE, IMGXFER_ERROR_NOT_FOUND,
                     "members: \"empty.img\", \"one.img\", \"block.img\"");
  assert_open_fails (archive, "", FALSE, IMGXFER_ERROR_INVALID_ARGUMENT,
                     "empty member name");

  /* Many members: the list is cut. */
  for (guint i = 0; i < 25; i++)
    {
      char name[32];
      Member m = { NULL, 1 };

      g_snprintf (name, sizeof name, "m%02u.img", i);
      m.name = g_intern_string (name);
      g_array_append_val (many, m);
    }
  make_archive (dir, archive, "python", "ustar", (Member *)many->data,
                many->len);
  assert_open_fails (archive, "m99.img", FALSE, IMGXFER_ERROR_NOT_FOUND,
                     "\"m09.img\" and 15 more)");

  test_tmpdir_free (dir);
}

/* Directories and links are members but not images. */
static void
test_error_not_regular (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *source = g_build_filename (dir, "src", NULL);
  g_autofree char *target = g_build_filename (source, "disk.img", NULL);
  g_autofree char *hard = g_build_filename (source, "hard.img", NULL);
  g_autofree char *soft = g_build_filename (source, "soft.img", NULL);
  const char *argv[] = { "tar", "-cf", archive, "-C", source, "disk.img",
                         "hard.img", "soft.img", "sub", NULL };
  g_autofree char *sub = g_build_filename (source, "sub", NULL);

  write_member (source, "disk.img", 1024);
  g_assert_cmpint (link (target, hard), ==, 0);
  g_assert_cmpint (symlink ("disk.img", soft), ==, 0);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  test_run_ok (argv);

  assert_open_fails (archive, "hard.img", FALSE, IMGXFER_ERROR_NOT_SUPPORTED,
                     "link to \"disk.img\"");
  assert_open_fails (archive, "soft.img", FALSE, IMGXFER_ERROR_NOT_SUPPORTED,
                     "link to \"disk.img\"");
  assert_open_fails (archive, "sub", FALSE, IMGXFER_ERROR_NOT_SUPPORTED,
                     "not a regular file");
  test_tmpdir_free (dir);
}

static void
test_error_not_tar (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *text = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.ova", NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (text, "This is not an archive.\n", -1, &error);
  g_assert_no_error (error);
  assert_open_fails (text, "disk.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     "not a tar archive");

  test_create_sparse (empty, 0);
  assert_open_fails (empty, "disk.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     "not a tar archive");

  test_tmpdir_free (dir);
}

/* "all formats" would list a zip's members: only tar is accepted. */
static void
test_error_zip (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *zip = g_build_filename (dir, "vm.zip", NULL);
  const char *argv[] = { PYTHON, "-c",
                         "import sys, zipfile\n"
                         "with zipfile.ZipFile(sys.argv[1], 'w') as z:\n"
                         "    z.writestr('disk.img', b'x' * 4096)\n",
                         zip, NULL };

  test_run_ok (argv);
  assert_open_fails (zip, "disk.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     "not a tar archive");
  test_tmpdir_free (dir);
}

static void
check_compressed (const char *mode, const char *filter)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *source = g_build_filename (dir, "src", NULL);
  g_autofree char *script = g_strdup_printf (
      "import sys, tarfile\n"
      "with tarfile.open(sys.argv[1], 'w:%s') as t:\n"
      "    t.add(sys.argv[2] + '/disk.img', arcname='disk.img')\n",
      mode);
  const char *argv[] = { PYTHON, "-c", script, archive, source, NULL };

  write_member (source, "disk.img", 100000);
  test_run_ok (argv);
  assert_open_fails (archive, "disk.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     filter);
  test_tmpdir_free (dir);
}

static void
test_error_gzip (void)
{
  check_compressed ("gz", "compressed (gzip)");
}

static void
test_error_xz (void)
{
  check_compressed ("xz", "compressed (xz)");
}

/* GNU tar -S stores only the data of a sparse file, with a map: the
 * member is not one byte range. Other members stay readable. */
static void
check_sparse (const char *format)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *source = g_build_filename (dir, "src", NULL);
  g_autofree char *sparse = g_build_filename (source, "sparse.img", NULL);
  g_autofree char *format_arg = g_strdup_printf ("--format=%s", format);
  const char *argv[] = { "tar", "-S", format_arg, "-cf", archive, "-C",
                         source, "sparse.img", "after.img", NULL };
  static const Member after[] = { { "after.img", 3000 } };
  g_autoptr (JsonNode) list = NULL;
  g_autoptr (GError) error = NULL;
  JsonArray *members;

  write_member (source, "after.img", 3000);
  test_create_sparse (sparse, 4 * MiB);
  test_write_pattern (sparse, MiB, 8192, 'd');
  test_run_ok (argv);

  assert_open_fails (archive, "sparse.img", FALSE, IMGXFER_ERROR_BAD_IMAGE,
                     "sparse");
  assert_members_match_python (archive, after, 1);

  list = imgxfer_archive_list (archive, NULL, &error);
  g_assert_no_error (error);
  members = json_object_get_array_member (json_node_get_object (list),
                                          "members");
  g_assert_cmpuint (json_array_get_length (members), ==, 2);
  g_assert_true (json_object_get_boolean_member (
      json_array_get_object_element (members, 0), "sparse"));
  g_assert_false (json_object_has_member (
      json_array_get_object_element (members, 0), "format"));

  test_tmpdir_free (dir);
}

static void
test_error_sparse_gnu (void)
{
  check_sparse ("gnu");
}

static void
test_error_sparse_pax (void)
{
  check_sparse ("pax");
}

/* A member cut short by truncation still has its header. */
static void
test_error_truncated (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint64 offset;

  make_archive (dir, archive, "python", "gnu", raw_members,
                G_N_ELEMENTS (raw_members) - 1); /* big.img last */
  offset = python_offset (archive, "big.img");
  /* All the data but not its padding to the next 512-byte block, which
   * a format driver stacked on the member reads. */
  g_assert_cmpint (truncate (archive, offset + MiB + 1), ==, 0);
  assert_open_fails (archive, "big.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     "truncated");

  g_assert_cmpint (truncate (archive, offset + 1000), ==, 0);

  assert_open_fails (archive, "big.img", TRUE, IMGXFER_ERROR_BAD_IMAGE,
                     "truncated");
  /* Even the intact members: the archive as a whole is damaged. */
  backend = open_member (archive, "one.img", &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE);
  g_clear_error (&error);

  /* Cut inside a header. */
  g_assert_cmpint (truncate (archive, offset - 300), ==, 0);
  backend = open_member (archive, "one.img", &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE);

  test_tmpdir_free (dir);
}

static void
test_error_writable (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  make_archive (dir, archive, "python", "gnu", raw_members, 2);
  imgxfer_open_options_set_member (options, "one.img");
  imgxfer_open_options_set_writable (options, TRUE);
  imgxfer_open_options_set_format (options, "raw");
  backend = imgxfer_open (archive, options, NULL, &error);
  g_assert_null (backend);
  assert_one_line_error (error, IMGXFER_ERROR_NOT_SUPPORTED, archive,
                         "read only");
  test_tmpdir_free (dir);
}

static char *
make_qcow2 (const char *dir, const char *name)
{
  char *path = g_build_filename (dir, name, NULL);
  const char *const write[] = { "write -q -P 0x5a 65536 4096", NULL };

  test_qemu_img_create (path, "qcow2", "1M", NULL, NULL);
  test_qemu_io (path, "qcow2", write);
  return path;
}

/* A qcow2 member is probed through the tar driver's bytes, then opened by
 * the format driver stacked on its byte range. */
static void
test_qcow2_member (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *qcow2 = make_qcow2 (dir, "disk.qcow2");
  const char *argv[] = { "tar", "--format=ustar", "-cf", archive, "-C", dir,
                         "disk.qcow2", NULL };
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) raw = NULL;
  g_autoptr (ImgxferBackend) image = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  guint8 buffer[4096], expected[4096];
  guint scans;

  test_run_ok (argv);
  raw = open_member (archive, "disk.qcow2", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (imgxfer_probe_format (raw, NULL, &error), ==, "qcow2");

  if (imgxfer_driver_lookup_format ("qcow2") == G_TYPE_INVALID)
    {
      g_test_skip ("no qcow2 driver yet");
      test_tmpdir_free (dir);
      return;
    }

  /* The archive is scanned once: the protocol level opened to probe the
   * format is handed to the format driver. */
  imgxfer_open_options_set_member (options, "disk.qcow2");
  scans = _imgxfer_tar_archive_count_scans ();
  image = imgxfer_open (archive, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (_imgxfer_tar_archive_count_scans () - scans, ==, 1);
  g_assert_cmpuint (imgxfer_backend_get_size (image), ==, MiB);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (image), buffer, 4096,
                                       65536, NULL, &error));
  g_assert_no_error (error);
  memset (expected, 0x5a, sizeof expected);
  g_assert_cmpmem (buffer, 4096, expected, 4096);
  g_clear_object (&image);

  /* A tar: URL with the format given stacks the same way. */
  url = g_strdup_printf ("tar://%s?member=disk.qcow2", archive);
  g_clear_object (&options);
  options = imgxfer_open_options_new ();
  imgxfer_open_options_set_format (options, "qcow2");
  image = imgxfer_open (url, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (image), ==, MiB);

  test_tmpdir_free (dir);
}

/* A fresh qcow2 is not a whole number of 512-byte sectors (196624 bytes
 * for an empty one), while qemu reads byte ranges in whole sectors: the
 * format driver has to extend the range over the tar padding. */
static void
test_qcow2_member_unaligned (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *qcow2 = g_build_filename (dir, "empty.qcow2", NULL);
  const char *tar[] = { "tar", "--format=ustar", "-cf", archive, "-C", dir,
                        "empty.qcow2", NULL };
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) image = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[4096], zeroes[4096] = { 0 };

  if (imgxfer_driver_lookup_format ("qcow2") == G_TYPE_INVALID)
    {
      g_test_skip ("no qcow2 driver yet");
      test_tmpdir_free (dir);
      return;
    }

  test_qemu_img_create (qcow2, "qcow2", "1G", NULL, NULL);
  test_run_ok (tar);
  imgxfer_open_options_set_member (options, "empty.qcow2");
  image = imgxfer_open (archive, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (imgxfer_backend_get_size (image), ==, 1024 * MiB);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (image), buffer, 4096,
                                       0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, 4096, zeroes, 4096);

  test_tmpdir_free (dir);
}

static const char ovf_text[]
    = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- made by hand -->\n"
      "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
      "    xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\">\n"
      "  <References>\n"
      "    <File ovf:id=\"file1\" ovf:href=\"disk.qcow2\"/>\n"
      "    <File ovf:id=\"file2\" ovf:href=\"missing.vmdk\"/>\n"
      "  </References>\n"
      "  <DiskSection>\n"
      "    <Info>Virtual disks</Info>\n"
      "    <Disk ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\"\n"
      "        ovf:capacity=\"1\" ovf:capacityAllocationUnits=\"byte * 2^20\"\n"
      "        ovf:format=\"http://www.gnome.org/qcow2\"/>\n"
      "    <Disk ovf:diskId=\"vmdisk2\" ovf:fileRef=\"file2\"\n"
      "        ovf:capacity=\"4096\"/>\n"
      "  </DiskSection>\n"
      "</Envelope>\n";

static JsonObject *
array_object (JsonObject *object, const char *member, guint index)
{
  JsonArray *array = json_object_get_array_member (object, member);

  return json_array_get_object_element (array, index);
}

static void
test_list_ova (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *ovf = g_build_filename (dir, "vm.ovf", NULL);
  g_autofree char *qcow2 = make_qcow2 (dir, "disk.qcow2");
  const char *argv[] = { "tar", "--format=gnu", "-cf", archive, "-C", dir,
                         "vm.ovf", "disk.qcow2", NULL };
  g_autoptr (GHashTable) offsets = NULL;
  g_autoptr (JsonNode) list = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *root, *member, *disk;
  g_autofree char *expected = NULL;
  g_autofree char *bom_ovf = g_strconcat ("\xef\xbb\xbf", ovf_text, NULL);

  /* With a byte order mark, as some producers write. */
  g_file_set_contents (ovf, bom_ovf, -1, &error);
  g_assert_no_error (error);
  test_run_ok (argv);
  offsets = python_offsets (archive);

  list = imgxfer_archive_list (archive, NULL, &error);
  g_assert_no_error (error);
  root = json_node_get_object (list);
  g_assert_cmpstr (json_object_get_string_member (root, "archive"), ==,
                   archive);
  g_assert_cmpuint (json_array_get_length (
                        json_object_get_array_member (root, "members")),
                    ==, 2);

  member = array_object (root, "members", 1);
  g_assert_cmpstr (json_object_get_string_member (member, "name"), ==,
                   "disk.qcow2");
  g_assert_cmpstr (json_object_get_string_member (member, "format"), ==,
                   "qcow2");
  expected = g_strdup_printf (
      "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
      json_object_get_int_member (member, "offset"),
      json_object_get_int_member (member, "size"));
  g_assert_cmpstr (expected, ==, g_hash_table_lookup (offsets, "disk.qcow2"));
  g_assert_cmpstr (json_object_get_string_member (
                       array_object (root, "members", 0), "format"),
                   ==, "raw");

  g_assert_cmpstr (json_object_get_string_member (root, "ovf"), ==, "vm.ovf");
  g_assert_false (json_object_has_member (root, "ovf-error"));
  disk = array_object (root, "disks", 0);
  g_assert_cmpstr (json_object_get_string_member (disk, "disk-id"), ==,
                   "vmdisk1");
  g_assert_cmpstr (json_object_get_string_member (disk, "href"), ==,
                   "disk.qcow2");
  g_assert_true (json_object_get_boolean_member (disk, "in-archive"));
  g_assert_cmpint (json_object_get_int_member (disk, "capacity"), ==, MiB);
  disk = array_object (root, "disks", 1);
  g_assert_cmpstr (json_object_get_string_member (disk, "href"), ==,
                   "missing.vmdk");
  g_assert_false (json_object_get_boolean_member (disk, "in-archive"));
  g_assert_cmpint (json_object_get_int_member (disk, "capacity"), ==, 4096);

  test_tmpdir_free (dir);
}

/* A broken descriptor does not hide the members. */
static void
test_list_bad_ovf (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *ovf = g_build_filename (dir, "vm.ovf", NULL);
  const char *argv[] = { "tar", "-cf", archive, "-C", dir, "vm.ovf", NULL };
  g_autoptr (JsonNode) list = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *root;

  g_file_set_contents (ovf, "<Envelope><References><File", -1, &error);
  g_assert_no_error (error);
  test_run_ok (argv);

  list = imgxfer_archive_list (archive, NULL, &error);
  g_assert_no_error (error);
  root = json_node_get_object (list);
  g_assert_true (json_object_has_member (root, "ovf-error"));
  g_assert_cmpuint (json_array_get_length (
                        json_object_get_array_member (root, "members")),
                    ==, 1);
  test_tmpdir_free (dir);
}

/* The command fails with status 1 and one line naming the archive. */
static void
assert_cli_fails (const char *const *args,
                  const char *archive,
                  const char *text)
{
  g_autofree char *err = NULL;
  int status = test_run_cli (args, NULL, &err);

  g_test_message ("%s", err);
  g_assert_cmpint (status, ==, 1);
  g_assert_true (g_str_has_prefix (err, "imgxfer: "));
  g_assert_nonnull (strstr (err, archive));
  g_assert_nonnull (strstr (err, text));
  /* One line: its only newline is the last character. */
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
}

static void
test_cli_errors (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *compressed = g_build_filename (dir, "vm.ova.gz", NULL);
  const char *missing[] = { "info", "--member", "disk.qcow2", archive, NULL };
  const char *gzipped[] = { "info", "--member", "one.img", compressed,
                            NULL };
  const char *gzip[] = { "gzip", "-k", archive, NULL };

  make_archive (dir, archive, "python", "gnu", raw_members, 2);
  test_run_ok (gzip);
  assert_cli_fails (missing, archive, "\"one.img\"");
  assert_cli_fails (gzipped, compressed, "compressed (gzip)");
  test_tmpdir_free (dir);
}

/* imgxfer convert --member copies a raw member's bytes exactly. */
static void
test_cli_convert (void)
{
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *target = g_build_filename (dir, "out.raw", NULL);
  g_autofree guint8 *expected = member_bytes ("big.img", MiB + 1);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  const char *help[] = { "convert", "--help", NULL };
  const char *convert[] = { "convert", "-f", "raw", "--member", "big.img",
                            archive, target, NULL };
  const char *missing[] = { "convert", "--member", "nope.img", archive,
                            target, NULL };
  gsize length;

  if (test_run_cli (help, NULL, NULL) != 0)
    {
      g_test_skip ("no convert command yet");
      test_tmpdir_free (dir);
      return;
    }

  make_archive (dir, archive, "gnu-tar", "pax", raw_members,
                G_N_ELEMENTS (raw_members));
  g_assert_cmpint (test_run_cli (convert, NULL, NULL), ==, 0);
  g_file_get_contents (target, &contents, &length, &error);
  g_assert_no_error (error);
  /* The member as it is seen: rounded up to 512, the tail zeroes. */
  expected = g_realloc (expected, MiB + 512);
  memset (expected + MiB + 1, 0, 511);
  g_assert_cmpmem (contents, length, expected, MiB + 512);

  assert_cli_fails (missing, archive, "no member \"nope.img\"");
  test_tmpdir_free (dir);
}

/* A member name is bytes, as a file name is: a UTF-8 name given on the
 * command line is found in the C locale too, not refused as text that
 * the locale cannot convert. */
static void
test_cli_utf8_member_c_locale (void)
{
  static const Member members[] = { { "disque-\xc3\xa9t\xc3\xa9.img", 1024 } };
  char *dir = test_tmpdir_new ();
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *target = g_build_filename (dir, "out.raw", NULL);
  g_autofree guint8 *expected = member_bytes (members[0].name, 1024);
  g_autofree char *contents = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  const char *convert[] = { "env", "LC_ALL=C", g_getenv ("IMGXFER_CLI"),
                            "convert", "-f", "raw", "--member",
                            members[0].name, archive, target, NULL };
  gsize length;

  g_assert_nonnull (convert[2]);
  make_archive (dir, archive, "python", "pax", members, 1);
  g_assert_cmpint (test_run (convert, NULL, &err), ==, 0);
  g_file_get_contents (target, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, length, expected, 1024);
  test_tmpdir_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tar-driver/offsets/python-ustar",
                   test_offsets_python_ustar);
  g_test_add_func ("/tar-driver/offsets/python-gnu", test_offsets_python_gnu);
  g_test_add_func ("/tar-driver/offsets/python-pax", test_offsets_python_pax);
  g_test_add_func ("/tar-driver/offsets/gnu-tar-ustar",
                   test_offsets_gnu_tar_ustar);
  g_test_add_func ("/tar-driver/offsets/gnu-tar-gnu",
                   test_offsets_gnu_tar_gnu);
  g_test_add_func ("/tar-driver/offsets/gnu-tar-pax",
                   test_offsets_gnu_tar_pax);
  g_test_add_func ("/tar-driver/offsets/utf8-name", test_offsets_utf8_name);
  g_test_add_func ("/tar-driver/offsets/huge-gnu", test_offsets_huge_gnu);
  g_test_add_func ("/tar-driver/offsets/huge-pax", test_offsets_huge_pax);
  g_test_add_func ("/tar-driver/read/ranges-and-clone",
                   test_read_ranges_and_clone);
  g_test_add_func ("/tar-driver/read/tar-url", test_tar_url);
  g_test_add_func ("/tar-driver/read/direct", test_read_direct);
  g_test_add_func ("/tar-driver/close/releases-archive",
                   test_close_releases_archive);
  g_test_add_func ("/tar-driver/read/dot-slash-name", test_dot_slash_name);
  g_test_add_func ("/tar-driver/read/qcow2-member", test_qcow2_member);
  g_test_add_func ("/tar-driver/read/qcow2-member-unaligned",
                   test_qcow2_member_unaligned);
  g_test_add_func ("/tar-driver/error/member-not-found",
                   test_error_member_not_found);
  g_test_add_func ("/tar-driver/error/not-regular", test_error_not_regular);
  g_test_add_func ("/tar-driver/error/not-tar", test_error_not_tar);
  g_test_add_func ("/tar-driver/error/zip", test_error_zip);
  g_test_add_func ("/tar-driver/error/gzip", test_error_gzip);
  g_test_add_func ("/tar-driver/error/xz", test_error_xz);
  g_test_add_func ("/tar-driver/error/sparse-gnu", test_error_sparse_gnu);
  g_test_add_func ("/tar-driver/error/sparse-pax", test_error_sparse_pax);
  g_test_add_func ("/tar-driver/error/truncated", test_error_truncated);
  g_test_add_func ("/tar-driver/error/writable", test_error_writable);
  g_test_add_func ("/tar-driver/list/ova", test_list_ova);
  g_test_add_func ("/tar-driver/list/bad-ovf", test_list_bad_ovf);
  g_test_add_func ("/tar-driver/cli/errors", test_cli_errors);
  g_test_add_func ("/tar-driver/cli/convert", test_cli_convert);
  g_test_add_func ("/tar-driver/cli/utf8-member-c-locale",
                   test_cli_utf8_member_c_locale);

  return g_test_run ();
}
