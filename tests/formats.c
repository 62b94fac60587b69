/* formats.c: every image format imgxfer lists, probed and read by each
 * command, and formats given with -f over any protocol
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-servers.h"
#include "test-utils.h"

#define MiB (1024 * 1024)
#define IMAGE_SIZE (8 * MiB)

/* The formats the README lists besides raw. */
static const char *const formats[]
    = { "qcow2", "qcow", "qed", "vmdk", "vhdx", "vdi", "vpc", "parallels" };

/* A raw image with data at the start, across a cluster boundary and at
 * the end, so that no container's own layout reads the same by chance. */
static char *
make_raw_image (const char *dir)
{
  char *path = g_build_filename (dir, "src.raw", NULL);

  test_create_sparse (path, IMAGE_SIZE);
  test_write_pattern (path, 0, 4096, 0x11);
  test_write_pattern (path, 3 * MiB - 512, MiB, 0x22);
  test_write_pattern (path, IMAGE_SIZE - 4096, 4096, 0x33);
  return path;
}

/* @raw converted to @format by qemu-img, at @dir/src.FORMAT. */
static char *
make_image (const char *dir, const char *raw, const char *format)
{
  g_autofree char *name = g_strconcat ("src.", format, NULL);
  char *path = g_build_filename (dir, name, NULL);
  const char *argv[]
      = { "qemu-img", "convert", "-f", "raw", "-O", format, raw, path, NULL };

  test_run_ok (argv);
  return path;
}

/* The output of `imgxfer ARGS...`, which must succeed. */
static char *
cli_text (const char *const *args)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = test_run_cli (args, &out, &err);

  if (status != 0)
    g_error ("imgxfer %s: exit %d: %s", args[0], status, err);
  return out;
}

/* The checksum line "DIGEST  NAME" of `imgxfer checksum`, digest only. */
static char *
cli_checksum (const char *const *args)
{
  g_autofree char *out = cli_text (args);

  return g_strndup (out, strcspn (out, " "));
}

/* The end of the last extent `imgxfer extents` lists. */
static guint64
cli_extents_end (const char *const *args)
{
  g_autofree char *out = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *array;
  JsonObject *last;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  root = test_parse_json (out);
  array = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (array), >, 0);
  last = json_array_get_object_element (array,
                                        json_array_get_length (array) - 1);
  return json_object_get_int_member (last, "start")
         + json_object_get_int_member (last, "length");
}

/* Each listed format, made by qemu-img and given without -f: convert
 * copies the guest data (not the container), checksum equals that of
 * the guest data as qemu-img converts it, extents span the virtual
 * size. */
static void
test_probe (gconstpointer data)
{
  const char *format = data;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *image = make_image (dir, raw, format);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *expected = g_build_filename (dir, "expected.raw", NULL);
  const char *to_raw[] = { "qemu-img", "convert", "-f",     format, "-O",
                           "raw",      image,     expected, NULL };
  const char *convert[] = { "convert", image, copy, NULL };
  const char *checksum[] = { "checksum", image, NULL };
  const char *expected_checksum[] = { "checksum", expected, NULL };
  const char *extents[] = { "extents", "--output=json", image, NULL };
  guint64 size = test_qemu_img_json_int ("info", image, "virtual-size");
  g_autofree char *err = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *expected_digest = NULL;

  test_run_ok (to_raw);
  g_assert_cmpuint (size, ==, test_file_size (expected));

  g_assert_cmpint (test_run_cli (convert, NULL, &err), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpuint (test_file_size (copy), ==, size);
  test_assert_images_equal (image, format, copy, "raw", FALSE);
  test_assert_images_equal (raw, "raw", copy, "raw", FALSE);

  digest = cli_checksum (checksum);
  expected_digest = cli_checksum (expected_checksum);
  g_assert_cmpstr (digest, ==, expected_digest);

  g_assert_cmpuint (cli_extents_end (extents), ==, size);

  test_tmpdir_free (g_steal_pointer (&dir));
}

/* Runs `imgxfer ARGS...`, which must succeed, and parses its JSON. */
static JsonNode *
cli_json (const char *const *args)
{
  g_autofree char *out = cli_text (args);

  return test_parse_json (out);
}

static gint64
cli_json_int (const char *const *args, const char *member)
{
  g_autoptr (JsonNode) root = cli_json (args);

  g_assert_true (json_object_has_member (json_node_get_object (root), member));
  return json_object_get_int_member (json_node_get_object (root), member);
}

/* Runs `imgxfer ARGS...`, which must fail with exit status 1 and a
 * one-line message holding @what. */
static void
assert_cli_fails (const char *const *args, const char *what)
{
  g_autofree char *err = NULL;
  int status = test_run_cli (args, NULL, &err);

  g_test_message ("imgxfer %s: %s", args[0], err);
  g_assert_cmpint (status, ==, 1);
  g_assert_true (g_str_has_prefix (err, "imgxfer: "));
  g_assert_nonnull (strstr (err, what));
  g_assert_cmpuint (strlen (err), ==, strcspn (err, "\n") + 1);
}

/* A qcow2 image whose bytes an NBD server (nbdkit's file plugin) or an
 * archive member holds reads, with -f qcow2, as the local image in
 * every command. */
static void
assert_reads_as_image (const char *url, const char *member, const char *image,
                       const char *dir)
{
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  const char *m = member ? "--member" : "-f";
  const char *name = member ? member : "qcow2";
  const char *convert[]
      = { "convert", "-f", "qcow2", m, name, url, copy, NULL };
  const char *checksum[] = { "checksum", "-f", "qcow2", m, name, url, NULL };
  const char *local_checksum[] = { "checksum", image, NULL };
  const char *extents[]
      = { "extents", "--output=json", "-f", "qcow2", m, name, url, NULL };
  const char *local_extents[] = { "extents", "--output=json", image, NULL };
  const char *info[]
      = { "info", "--output=json", "-f", "qcow2", m, name, url, NULL };
  const char *measure[] = {
    "measure", "--output=json", "-O", "qcow2", "-f", "qcow2", m, name, url, NULL
  };
  const char *local_measure[]
      = { "measure", "--output=json", "-O", "qcow2", image, NULL };
  g_autofree char *digest = cli_checksum (checksum);
  g_autofree char *local_digest = cli_checksum (local_checksum);
  g_autofree char *map = cli_text (extents);
  g_autofree char *local_map = cli_text (local_extents);
  g_autoptr (JsonNode) root = cli_json (info);

  g_assert_cmpint (test_run_cli (convert, NULL, NULL), ==, 0);
  test_assert_images_equal (image, "qcow2", copy, "raw", FALSE);
  g_assert_cmpuint (test_file_size (copy), ==, IMAGE_SIZE);

  g_assert_cmpstr (digest, ==, local_digest);
  g_assert_cmpstr (map, ==, local_map);
  g_assert_cmpstr (
      json_object_get_string_member (json_node_get_object (root), "format"), ==,
      "qcow2");
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (root), "virtual-size"),
      ==, IMAGE_SIZE);
  g_assert_cmpint (cli_json_int (measure, "required"), ==,
                   cli_json_int (local_measure, "required"));
}

static TestServer *
serve_file (const char *path, const char *socket)
{
  g_autofree char *file = g_strconcat ("file=", path, NULL);
  const char *argv[] = {
    "nbdkit", "--foreground", "--exit-with-parent", "-U", socket, "file", file,
    NULL
  };

  return test_server_start (argv, socket);
}

/* -f qcow2 over an NBD URL, in both spellings: qemu reads the format
 * from the export; without -f the export's bytes are the image. */
static void
test_over_nbd (gconstpointer data)
{
  gboolean legacy = GPOINTER_TO_INT (data);
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *image = make_image (dir, raw, "qcow2");
  g_autofree char *socket = g_build_filename (dir, "nbd.sock", NULL);
  g_autoptr (TestServer) server = serve_file (image, socket);
  g_autofree char *url = legacy ? g_strconcat ("nbd:unix:", socket, NULL)
                                : g_strdup (test_server_get_uri (server));
  const char *bytes_checksum[] = { "checksum", url, NULL };
  const char *container_checksum[] = { "checksum", "-f", "raw", image, NULL };
  g_autofree char *bytes_digest = NULL;
  g_autofree char *container_digest = NULL;

  assert_reads_as_image (url, NULL, image, dir);

  /* Never probed: remote data is what the server says it is. */
  bytes_digest = cli_checksum (bytes_checksum);
  container_digest = cli_checksum (container_checksum);
  g_assert_cmpstr (bytes_digest, ==, container_digest);

  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* The same over TCP, from a named export of qemu-nbd serving the
 * qcow2 file's bytes as raw. */
static void
test_over_nbd_tcp (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *image = make_image (dir, raw, "qcow2");
  g_autofree char *port = g_strdup_printf ("%u", test_free_tcp_port ());
  g_autofree char *url = g_strdup_printf ("nbd://127.0.0.1:%s/disk", port);
  const char *argv[]
      = { "qemu-nbd",  "-r", "-t", "-f", "raw", "-x",  "disk", "-b",
          "127.0.0.1", "-p", port, "-e", "4",   image, NULL };
  g_autoptr (TestServer) server = test_server_start_uri (argv, url);

  assert_reads_as_image (url, NULL, image, dir);
  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* An image read in a format from an NBD export was written by the
 * server's owner: a backing file it names on this host is refused, as
 * for an archive member, unless the caller allows it. */
static void
test_over_nbd_external_backing (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *base = make_image (dir, raw, "qcow2");
  g_autofree char *top = g_build_filename (dir, "top.qcow2", NULL);
  g_autofree char *socket = g_build_filename (dir, "nbd.sock", NULL);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autoptr (TestServer) server = NULL;
  const char *url;
  g_autofree char *what = NULL;

  test_qemu_img_create (top, "qcow2", NULL, base, "qcow2");
  server = serve_file (top, socket);
  url = test_server_get_uri (server);
  what = g_strdup_printf ("%s: the image names a backing file outside the "
                          "NBD export, %s",
                          url, base);
  {
    const char *convert[] = { "convert", "-f", "qcow2", url, copy, NULL };
    assert_cli_fails (convert, what);
    g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
  }
  {
    const char *convert[] = {
      "convert", "--allow-external-files", "-f", "qcow2", url, copy, NULL
    };
    g_assert_cmpint (test_run_cli (convert, NULL, NULL), ==, 0);
    test_assert_images_equal (raw, "raw", copy, "raw", FALSE);
  }

  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* -f qcow2 on an archive member, named with --member or a tar: URL. */
static void
test_over_archive_member (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *image = make_image (dir, raw, "qcow2");
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  g_autofree char *tar_url
      = g_strconcat ("tar://", archive, "?member=disk.qcow2", NULL);
  const char *paths[] = { image, NULL };
  const char *names[] = { "disk.qcow2", NULL };
  guint64 offset, size;

  test_create_ova (archive, paths, names, &offset, &size);
  assert_reads_as_image (archive, "disk.qcow2", image, dir);
  assert_reads_as_image (tar_url, NULL, image, dir);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* Every command refuses a format no driver reads, local or remote, and
 * convert creates nothing. */
static void
test_unknown_format (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_raw_image (dir);
  g_autofree char *socket = g_build_filename (dir, "nbd.sock", NULL);
  g_autoptr (TestServer) server = serve_file (raw, socket);
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  const char *sources[] = { raw, test_server_get_uri (server) };

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      const char *src = sources[i];
      const char *const commands[][9] = {
        { "convert", "-f", "bogus", src, copy, NULL },
        { "info", "-f", "bogus", src, NULL },
        { "checksum", "-f", "bogus", src, NULL },
        { "extents", "-f", "bogus", src, NULL },
        { "measure", "-O", "qcow2", "-f", "bogus", src, NULL },
      };
      g_autofree char *what
          = g_strdup_printf ("%s: no driver for image format \"bogus\"", src);

      for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
        assert_cli_fails (commands[c], what);
      g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
    }

  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* A format over a URL qemu cannot read it from (TLS, another driver) is
 * refused by every command, before anything is connected or created. */
static void
test_format_not_over_url (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *tls
      = g_strdup_printf ("nbds+unix:///?socket=%s/no.sock", dir);
  const char *sources[] = { tls, "memory:?size=1m" };

  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      const char *src = sources[i];
      const char *const commands[][9] = {
        { "convert", "-f", "qcow2", src, copy, NULL },
        { "info", "-f", "qcow2", src, NULL },
        { "checksum", "-f", "qcow2", src, NULL },
        { "extents", "-f", "qcow2", src, NULL },
        { "measure", "-O", "raw", "-f", "qcow2", src, NULL },
      };
      g_autofree char *what = g_strdup_printf (
          "%s: format \"qcow2\" is not supported over this URL", src);

      for (guint c = 0; c < G_N_ELEMENTS (commands); c++)
        assert_cli_fails (commands[c], what);
      g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
    }
  test_tmpdir_free (g_steal_pointer (&dir));
}

#define ODD_SIZE 1000003
#define ODD_SEEN 1000448 /* rounded up to 512 */

/* A raw file of ODD_SIZE bytes, data in its first and last bytes. */
static char *
make_odd_raw (const char *dir)
{
  char *path = g_build_filename (dir, "odd.raw", NULL);

  test_create_sparse (path, ODD_SIZE);
  test_write_pattern (path, 0, 4096, 0x61);
  test_write_pattern (path, ODD_SIZE - 3, 3, 0x74);
  return path;
}

/* A raw file whose size is not a multiple of 512 is seen at its size
 * rounded up, the tail reading as zeroes, by every command: as qemu-img
 * sees it, and as imageio's client does (through qemu-nbd). */
static void
test_size_raw_file (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_odd_raw (dir);
  g_autofree char *qcow2 = make_image (dir, raw, "qcow2");
  g_autofree char *copy = g_build_filename (dir, "copy.raw", NULL);
  g_autofree char *socket = g_build_filename (dir, "nbd.sock", NULL);
  g_autoptr (TestServer) server = test_qemu_nbd_start (raw, "raw", socket);
  const char *info[] = { "info", "--output=json", raw, NULL };
  const char *measure[]
      = { "measure", "--output=json", "-O", "raw", raw, NULL };
  const char *extents[] = { "extents", "--output=json", raw, NULL };
  const char *checksum[] = { "checksum", raw, NULL };
  const char *qcow2_checksum[] = { "checksum", qcow2, NULL };
  const char *served_checksum[]
      = { "checksum", test_server_get_uri (server), NULL };
  const char *convert[] = { "convert", raw, copy, NULL };
  g_autofree char *digest = cli_checksum (checksum);
  g_autofree char *qcow2_digest = cli_checksum (qcow2_checksum);
  g_autofree char *served_digest = cli_checksum (served_checksum);

  g_assert_cmpint (cli_json_int (info, "virtual-size"), ==, ODD_SEEN);
  g_assert_cmpint (cli_json_int (measure, "fully-allocated"), ==, ODD_SEEN);
  g_assert_cmpuint (cli_extents_end (extents), ==, ODD_SEEN);
  g_assert_cmpstr (digest, ==, qcow2_digest);
  g_assert_cmpstr (digest, ==, served_digest);

  g_assert_cmpint (test_run_cli (convert, NULL, NULL), ==, 0);
  g_assert_cmpuint (test_file_size (copy), ==, ODD_SEEN);
  test_assert_images_equal (raw, "raw", copy, "raw", FALSE);

  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* The same file as a member of an OVA: the same size and checksum; info
 * also says how large the member and the archive are. */
static void
test_size_archive_member (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_odd_raw (dir);
  g_autofree char *archive = g_build_filename (dir, "vm.ova", NULL);
  const char *paths[] = { raw, NULL };
  const char *names[] = { "disk.raw", NULL };
  const char *info[]
      = { "info", "--output=json", "--member", "disk.raw", archive, NULL };
  const char *extents[]
      = { "extents", "--output=json", "--member", "disk.raw", archive, NULL };
  const char *checksum[]
      = { "checksum", "--member", "disk.raw", archive, NULL };
  const char *file_checksum[] = { "checksum", raw, NULL };
  g_autofree char *digest = NULL;
  g_autofree char *file_digest = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonObject *object;
  guint64 offset, size;

  test_create_ova (archive, paths, names, &offset, &size);
  root = cli_json (info);
  object = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (object, "virtual-size"), ==,
                   ODD_SEEN);
  g_assert_cmpint (json_object_get_int_member (object, "member-size"), ==,
                   ODD_SIZE);
  g_assert_cmpint (json_object_get_int_member (object, "member-offset"), ==,
                   offset);
  g_assert_true (json_object_has_member (object, "actual-size"));
  g_assert_cmpuint (cli_extents_end (extents), ==, ODD_SEEN);
  digest = cli_checksum (checksum);
  file_digest = cli_checksum (file_checksum);
  g_assert_cmpstr (digest, ==, file_digest);
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* An NBD export is seen at the size its server reports, unrounded, by
 * every command; its checksum is that of exactly its bytes. */
static void
test_size_nbd_export (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *raw = make_odd_raw (dir);
  g_autofree char *socket = g_build_filename (dir, "nbd.sock", NULL);
  g_autoptr (TestServer) server = serve_file (raw, socket);
  const char *url = test_server_get_uri (server);
  const char *info[] = { "info", "--output=json", url, NULL };
  const char *extents[] = { "extents", "--output=json", url, NULL };
  const char *checksum[] = { "checksum", url, NULL };
  g_autoptr (ImgxferChecksum) expected = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *expected_digest = NULL;
  g_autofree char *digest = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (raw, &bytes, &length, NULL));
  g_assert_cmpuint (length, ==, ODD_SIZE);
  expected = imgxfer_checksum_new (NULL, 0, length, &error);
  g_assert_no_error (error);
  imgxfer_checksum_update (expected, 0, bytes, length);
  expected_digest = imgxfer_checksum_finish (expected, &error);
  g_assert_no_error (error);

  g_assert_cmpint (cli_json_int (info, "virtual-size"), ==, ODD_SIZE);
  g_assert_cmpuint (cli_extents_end (extents), ==, ODD_SIZE);
  digest = cli_checksum (checksum);
  g_assert_cmpstr (digest, ==, expected_digest);

  g_clear_pointer (&server, test_server_stop);
  test_tmpdir_free (g_steal_pointer (&dir));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *name = g_strdup_printf ("/formats/probe/%s", formats[i]);
      g_test_add_data_func (name, formats[i], test_probe);
    }

  g_test_add_data_func ("/formats/over-nbd/uri", GINT_TO_POINTER (FALSE),
                        test_over_nbd);
  g_test_add_data_func ("/formats/over-nbd/legacy", GINT_TO_POINTER (TRUE),
                        test_over_nbd);
  g_test_add_func ("/formats/over-nbd/tcp", test_over_nbd_tcp);
  g_test_add_func ("/formats/over-nbd/external-backing",
                   test_over_nbd_external_backing);
  g_test_add_func ("/formats/over-archive-member", test_over_archive_member);
  g_test_add_func ("/formats/errors/unknown-format", test_unknown_format);
  g_test_add_func ("/formats/errors/not-over-url", test_format_not_over_url);
  g_test_add_func ("/formats/size/raw-file", test_size_raw_file);
  g_test_add_func ("/formats/size/archive-member", test_size_archive_member);
  g_test_add_func ("/formats/size/nbd-export", test_size_nbd_export);

  return g_test_run ();
}
