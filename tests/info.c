/* info.c: imgxfer_image_info(), imgxfer_image_measure(), `imgxfer info`
 * and `imgxfer measure` on real images made by qemu-img, plain and inside
 * an OVA, against the values the imageio client tests expect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "test-servers.h"
#include "test-utils.h"

#define KiB 1024
#define MiB (1024 * 1024)
#define CLUSTER_SIZE (64 * KiB)
#define IMAGE_SIZE (2 * MiB)

/* What the image is: its format, and whether qcow2 clusters are
 * compressed. */
typedef struct
{
  const char *format;
  gboolean compressed;
} ImageKind;

static const ImageKind raw_image = { "raw", FALSE };
static const ImageKind qcow2_image = { "qcow2", FALSE };
static const ImageKind compressed_image = { "qcow2", TRUE };

/* A measure of an OVA member: the member's format and the target's. */
typedef struct
{
  gboolean compressed;
  const char *target_format;
} OvaMeasure;

static const OvaMeasure ova_measures[] = {
  { FALSE, "raw" },
  { TRUE, "raw" },
  { FALSE, "qcow2" },
  { TRUE, "qcow2" },
};

/* Creates DIR/img: 2 MiB, the first cluster of "x", in @kind's format,
 * converted by qemu-img from a raw file as the imageio tests do. */
static char *
create_image (const char *dir, const ImageKind *kind)
{
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  char *img = g_build_filename (dir, "img", NULL);
  const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O",
                         kind->format, tmp, img,
                         kind->compressed ? "-c" : NULL, NULL };

  test_create_sparse (tmp, IMAGE_SIZE);
  test_write_pattern (tmp, 0, CLUSTER_SIZE, 'x');
  g_assert_cmpint (test_run (argv, NULL, NULL), ==, 0);
  return img;
}

/* A test image in a temporary folder, and, when asked for, an OVA holding
 * it as the member "img". */
typedef struct
{
  char *dir;
  char *img;
  char *ova;
  guint64 member_offset;
  guint64 member_size;
} Fixture;

static void
fixture_free (Fixture *fixture)
{
  test_tmpdir_free (fixture->dir);
  g_free (fixture->img);
  g_free (fixture->ova);
  g_free (fixture);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fixture, fixture_free)

/* Returns %NULL, the test skipped, when an OVA is asked for and there is
 * no tar driver. */
static Fixture *
fixture_new (const ImageKind *kind, gboolean with_ova)
{
  Fixture *fixture;

  if (with_ova && imgxfer_driver_lookup_name ("tar") == G_TYPE_INVALID)
    {
      g_test_skip ("no tar driver");
      return NULL;
    }

  fixture = g_new0 (Fixture, 1);
  fixture->dir = test_tmpdir_new ();
  fixture->img = create_image (fixture->dir, kind);
  if (with_ova)
    {
      const char *paths[] = { fixture->img, NULL };
      const char *names[] = { "img", NULL };

      fixture->ova = g_build_filename (fixture->dir, "ova", NULL);
      test_create_ova (fixture->ova, paths, names, &fixture->member_offset,
                  &fixture->member_size);
    }
  return fixture;
}

static ImgxferOpenOptions *
member_options (const char *member)
{
  ImgxferOpenOptions *options = imgxfer_open_options_new ();

  imgxfer_open_options_set_member (options, member);
  return options;
}

/* Runs `imgxfer ARGS...`, which must succeed and print a JSON object. */
static JsonNode *
run_cli_json (const char *const *args)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  JsonNode *node;

  if (test_run_cli (args, &out, &err) != 0)
    g_error ("imgxfer %s failed: %s", args[0], err);
  g_assert_cmpstr (err, ==, "");
  node = test_parse_json (out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return node;
}

static void
assert_int_member (JsonNode *node, const char *name, gint64 expected)
{
  JsonObject *object = json_node_get_object (node);

  g_assert_true (json_object_has_member (object, name));
  g_assert_cmpint (json_object_get_int_member (object, name), ==, expected);
}

static void
assert_no_member_keys (JsonNode *node)
{
  JsonObject *object = json_node_get_object (node);

  g_assert_false (json_object_has_member (object, "member-offset"));
  g_assert_false (json_object_has_member (object, "member-size"));
}

static void
assert_info (JsonNode *info, const ImageKind *kind)
{
  JsonObject *object = json_node_get_object (info);

  g_assert_cmpstr (json_object_get_string_member (object, "format"), ==,
                   kind->format);
  assert_int_member (info, "virtual-size", IMAGE_SIZE);
  if (g_str_equal (kind->format, "qcow2"))
    assert_int_member (info, "cluster-size", CLUSTER_SIZE);
}

static void
assert_member_keys (JsonNode *node, Fixture *fixture)
{
  assert_int_member (node, "member-offset", fixture->member_offset);
  assert_int_member (node, "member-size", fixture->member_size);
}

static void
assert_filename (JsonNode *info, const char *expected)
{
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (info),
                                                  "filename"), ==, expected);
}

/* test_info, first half: a plain image. */
static void
test_info (gconstpointer data)
{
  g_autoptr (Fixture) fixture = fixture_new (data, FALSE);
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  info = imgxfer_image_info (fixture->img, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_info (info, data);
  assert_no_member_keys (info);
  assert_filename (info, fixture->img);
}

/* test_info, second half: the same image as a member of an OVA. */
static void
test_info_member (gconstpointer data)
{
  g_autoptr (Fixture) fixture = fixture_new (data, TRUE);
  g_autoptr (ImgxferOpenOptions) options = member_options ("img");
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  if (fixture == NULL)
    return;

  info = imgxfer_image_info (fixture->ova, options, NULL, &error);
  g_assert_no_error (error);
  assert_info (info, data);
  assert_member_keys (info, fixture);
  assert_filename (info, fixture->ova);
}

/* The tar driver's URL names the member too. */
static void
test_info_member_url (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, TRUE);
  g_autofree char *url = NULL;
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  if (fixture == NULL)
    return;

  url = g_strdup_printf ("tar://%s?member=img", fixture->ova);
  info = imgxfer_image_info (url, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_info (info, &qcow2_image);
  assert_member_keys (info, fixture);
}

static void
test_measure (const ImageKind *kind, const char *target_format,
              gint64 required)
{
  g_autoptr (Fixture) fixture = fixture_new (kind, FALSE);
  g_autoptr (JsonNode) measure = NULL;
  g_autoptr (GError) error = NULL;

  measure = imgxfer_image_measure (fixture->img, NULL, target_format, NULL,
                                   &error);
  g_assert_no_error (error);
  assert_int_member (measure, "required", required);
  g_assert_true (json_object_has_member (json_node_get_object (measure),
                                         "fully-allocated"));
  assert_no_member_keys (measure);
}

static void
test_measure_to_raw (gconstpointer data)
{
  test_measure (data, "raw", IMAGE_SIZE);
}

/* The header, the L1 table, the refcount table and block, one L2 table
 * and one data cluster: 6 clusters. */
static void
test_measure_to_qcow2 (gconstpointer data)
{
  test_measure (data, "qcow2", 393216);
}

/* test_measure_from_ova: a qcow2 measures the same in and out of an OVA. */
static void
test_measure_from_ova (gconstpointer data)
{
  const OvaMeasure *param = data;
  const ImageKind kind = { "qcow2", param->compressed };
  g_autoptr (Fixture) fixture = fixture_new (&kind, TRUE);
  g_autoptr (ImgxferOpenOptions) options = member_options ("img");
  g_autoptr (JsonNode) img_measure = NULL;
  g_autoptr (JsonNode) ova_measure = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *object;

  if (fixture == NULL)
    return;

  img_measure = imgxfer_image_measure (fixture->img, NULL,
                                       param->target_format, NULL, &error);
  g_assert_no_error (error);
  assert_no_member_keys (img_measure);

  ova_measure = imgxfer_image_measure (fixture->ova, options,
                                       param->target_format, NULL, &error);
  g_assert_no_error (error);

  object = json_node_get_object (img_measure);
  assert_int_member (ova_measure, "required",
                     json_object_get_int_member (object, "required"));
  assert_int_member (ova_measure, "fully-allocated",
                     json_object_get_int_member (object, "fully-allocated"));
  assert_member_keys (ova_measure, fixture);
}

static void
test_info_missing_file (void)
{
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  info = imgxfer_image_info ("/nonexistent/disk.img", NULL, NULL, &error);
  g_assert_null (info);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/disk.img"));
}

static void
test_info_missing_member (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, TRUE);
  g_autoptr (ImgxferOpenOptions) options = member_options ("nosuch.qcow2");
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;

  if (fixture == NULL)
    return;

  info = imgxfer_image_info (fixture->ova, options, NULL, &error);
  g_assert_null (info);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "nosuch.qcow2"));
}

/* An NBD export is guest data: described as raw unless a format is
 * given. */
static void
test_info_nbd (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, FALSE);
  g_autofree char *socket = g_build_filename (fixture->dir, "nbd.sock",
                                              NULL);
  TestServer *server = test_qemu_nbd_start (fixture->img, "qcow2", socket);
  const char *url = test_server_get_uri (server);
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (JsonNode) measure = NULL;
  g_autoptr (GError) error = NULL;

  info = imgxfer_image_info (url, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_info (info, &raw_image);
  assert_no_member_keys (info);

  measure = imgxfer_image_measure (url, NULL, "qcow2", NULL, &error);
  g_assert_no_error (error);
  assert_int_member (measure, "required", 393216);

  test_server_stop (server);
  g_assert_cmpuint (test_count_children ("qemu-nbd"), ==, 0);
}

/* The command line, with --output=json, prints what the library returns. */
static void
test_cli_info_json (gconstpointer data)
{
  g_autoptr (Fixture) fixture = fixture_new (data, FALSE);
  const char *args[] = { "info", "--output=json", fixture->img, NULL };
  g_autoptr (JsonNode) info = run_cli_json (args);

  assert_info (info, data);
  assert_no_member_keys (info);
}

static void
test_cli_info_member_json (gconstpointer data)
{
  g_autoptr (Fixture) fixture = fixture_new (data, TRUE);
  g_autoptr (JsonNode) info = NULL;

  if (fixture == NULL)
    return;

  {
    const char *args[] = { "info", "--output=json", "--member", "img",
                           fixture->ova, NULL };
    info = run_cli_json (args);
  }
  assert_info (info, data);
  assert_member_keys (info, fixture);
}

static void
test_cli_info_human (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, FALSE);
  const char *args[] = { "info", fixture->img, NULL };
  g_autofree char *out = NULL;
  g_autofree char *image_line = NULL;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  image_line = g_strdup_printf ("image: %s\n", fixture->img);
  g_assert_true (g_str_has_prefix (out, image_line));
  g_assert_nonnull (strstr (out, "\nfile format: qcow2\n"));
  /* The number and the unit are joined by a no-break space in UTF-8
   * locales. */
  g_assert_nonnull (strstr (out, "\nvirtual size: 2.0"));
  g_assert_nonnull (strstr (out, "MiB (2097152 bytes)\n"));
  g_assert_nonnull (strstr (out, "\ncluster_size: 65536\n"));
  g_assert_null (strstr (out, "member"));
}

/* Without --member, an archive's members and OVF disks are listed. */
static void
test_cli_archive_listing (void)
{
  static const char ovf_text[]
      = "<?xml version=\"1.0\"?>\n"
        "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" "
        "xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\">\n"
        " <References><File ovf:id=\"file1\" ovf:href=\"img\"/></References>\n"
        " <DiskSection><Disk ovf:diskId=\"disk1\" ovf:fileRef=\"file1\" "
        "ovf:capacity=\"2097152\"/></DiskSection>\n"
        "</Envelope>\n";
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, TRUE);
  g_autofree char *ovf = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) listing = NULL;
  g_autofree char *out = NULL;
  guint64 ovf_offset, ovf_size;
  JsonArray *members;
  JsonObject *member;
  JsonObject *disk;

  if (fixture == NULL)
    return;

  /* The descriptor comes first in an OVA. */
  ovf = g_build_filename (fixture->dir, "vm.ovf", NULL);
  g_file_set_contents (ovf, ovf_text, -1, &error);
  g_assert_no_error (error);
  {
    const char *paths[] = { ovf, fixture->img, NULL };
    const char *names[] = { "vm.ovf", "img", NULL };

    test_create_ova (fixture->ova, paths, names, &ovf_offset, &ovf_size);
  }
  g_assert_cmpuint (ovf_size, ==, strlen (ovf_text));

  {
    const char *args[] = { "info", "--output=json", fixture->ova, NULL };
    listing = run_cli_json (args);
  }
  members = json_object_get_array_member (json_node_get_object (listing),
                                          "members");
  g_assert_cmpuint (json_array_get_length (members), ==, 2);
  member = json_array_get_object_element (members, 0);
  g_assert_cmpstr (json_object_get_string_member (member, "name"), ==,
                   "vm.ovf");
  g_assert_cmpint (json_object_get_int_member (member, "offset"), ==,
                   ovf_offset);
  member = json_array_get_object_element (members, 1);
  g_assert_cmpstr (json_object_get_string_member (member, "name"), ==,
                   "img");
  g_assert_cmpstr (json_object_get_string_member (member, "format"), ==,
                   "qcow2");
  disk = json_array_get_object_element (
      json_object_get_array_member (json_node_get_object (listing), "disks"),
      0);
  g_assert_cmpstr (json_object_get_string_member (disk, "href"), ==, "img");

  {
    const char *args[] = { "info", fixture->ova, NULL };

    g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  }
  g_assert_nonnull (strstr (out, "\nvm.ovf "));
  g_assert_nonnull (strstr (out, "\nimg "));
  g_assert_nonnull (strstr (out, " qcow2\n"));
  g_assert_nonnull (strstr (out, "\n  disk disk1: img, capacity 2097152 "
                                 "bytes\n"));
}

static void
test_cli_measure_json (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&compressed_image, FALSE);
  const char *to_raw[] = { "measure", "-O", "raw", "--output=json",
                           fixture->img, NULL };
  const char *to_qcow2[] = { "measure", "--output=json", "-O", "qcow2",
                             fixture->img, NULL };
  g_autoptr (JsonNode) raw = run_cli_json (to_raw);
  g_autoptr (JsonNode) qcow2 = run_cli_json (to_qcow2);

  assert_int_member (raw, "required", IMAGE_SIZE);
  assert_int_member (raw, "fully-allocated", IMAGE_SIZE);
  assert_no_member_keys (raw);
  assert_int_member (qcow2, "required", 393216);
  assert_no_member_keys (qcow2);
}

static void
test_cli_measure_member_json (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&compressed_image, TRUE);
  g_autoptr (JsonNode) measure = NULL;

  if (fixture == NULL)
    return;

  {
    const char *args[] = { "measure", "-O", "qcow2", "--member", "img",
                           "--output=json", fixture->ova, NULL };
    measure = run_cli_json (args);
  }
  assert_int_member (measure, "required", 393216);
  assert_member_keys (measure, fixture);
}

static void
test_cli_measure_human (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&raw_image, FALSE);
  const char *args[] = { "measure", "-O", "raw", fixture->img, NULL };
  g_autofree char *out = NULL;

  g_assert_cmpint (test_run_cli (args, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==,
                   "required size: 2097152\n"
                   "fully allocated size: 2097152\n");
}

/* Runs `imgxfer ARGS...`, which must fail with @status and one line on
 * stderr that contains @needle. */
static void
assert_cli_fails (const char *const *args, int status, const char *needle)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (test_run_cli (args, &out, &err), ==, status);
  g_assert_cmpstr (out, ==, "");
  g_assert_true (g_str_has_prefix (err, "imgxfer"));
  g_assert_nonnull (strstr (err, needle));
  if (status == 1)
    g_assert_cmpstr (strchr (err, '\n'), ==, "\n");
}

static void
test_cli_missing_file (void)
{
  const char *info[] = { "info", "/nonexistent/disk.img", NULL };
  const char *measure[] = { "measure", "-O", "raw", "/nonexistent/disk.img",
                            NULL };

  assert_cli_fails (info, 1, "/nonexistent/disk.img");
  assert_cli_fails (measure, 1, "/nonexistent/disk.img");
}

static void
test_cli_bad_format (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&raw_image, FALSE);
  const char *info[] = { "info", "-f", "nosuch", fixture->img, NULL };
  const char *measure[] = { "measure", "-O", "nosuch", fixture->img, NULL };

  assert_cli_fails (info, 1, "nosuch");
  assert_cli_fails (measure, 1, "nosuch");
}

static void
test_cli_missing_member (void)
{
  g_autoptr (Fixture) fixture = fixture_new (&qcow2_image, TRUE);

  if (fixture == NULL)
    return;

  {
    const char *info[] = { "info", "--member", "nosuch.qcow2", fixture->ova,
                           NULL };
    const char *measure[] = { "measure", "-O", "raw", "--member",
                              "nosuch.qcow2", fixture->ova, NULL };

    assert_cli_fails (info, 1, "nosuch.qcow2");
    assert_cli_fails (measure, 1, "nosuch.qcow2");
  }
}

static void
test_cli_usage (void)
{
  const char *no_target[] = { "measure", "disk.img", NULL };
  const char *no_image[] = { "info", NULL };
  const char *bad_output[] = { "info", "--output=xml", "disk.img", NULL };

  assert_cli_fails (no_target, 2, "-O");
  assert_cli_fails (no_image, 2, "one image");
  assert_cli_fails (bad_output, 2, "xml");
}

static void
add_kind_tests (const char *path, GTestDataFunc func)
{
  static const struct
  {
    const char *name;
    const ImageKind *kind;
  } kinds[] = {
    { "raw", &raw_image },
    { "qcow2", &qcow2_image },
    { "qcow2-compressed", &compressed_image },
  };

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/%s", path, kinds[i].name);

      g_test_add_data_func (name, kinds[i].kind, func);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  add_kind_tests ("/info/info", test_info);
  add_kind_tests ("/info/info-member", test_info_member);
  add_kind_tests ("/info/measure-to-raw", test_measure_to_raw);
  add_kind_tests ("/info/measure-to-qcow2", test_measure_to_qcow2);
  for (guint i = 0; i < G_N_ELEMENTS (ova_measures); i++)
    {
      g_autofree char *name = g_strdup_printf (
          "/info/measure-from-ova/%s/%s", ova_measures[i].target_format,
          ova_measures[i].compressed ? "compressed" : "plain");

      g_test_add_data_func (name, &ova_measures[i], test_measure_from_ova);
    }
  g_test_add_func ("/info/info-member-url", test_info_member_url);
  g_test_add_func ("/info/errors/missing-file", test_info_missing_file);
  g_test_add_func ("/info/errors/missing-member", test_info_missing_member);
  g_test_add_func ("/info/nbd", test_info_nbd);

  add_kind_tests ("/info/cli/info-json", test_cli_info_json);
  add_kind_tests ("/info/cli/info-member-json", test_cli_info_member_json);
  g_test_add_func ("/info/cli/info-human", test_cli_info_human);
  g_test_add_func ("/info/cli/archive-listing", test_cli_archive_listing);
  g_test_add_func ("/info/cli/measure-json", test_cli_measure_json);
  g_test_add_func ("/info/cli/measure-member-json",
                   test_cli_measure_member_json);
  g_test_add_func ("/info/cli/measure-human", test_cli_measure_human);
  g_test_add_func ("/info/cli/errors/missing-file", test_cli_missing_file);
  g_test_add_func ("/info/cli/errors/bad-format", test_cli_bad_format);
  g_test_add_func ("/info/cli/errors/missing-member",
                   test_cli_missing_member);
  g_test_add_func ("/info/cli/errors/usage", test_cli_usage);

  return g_test_run ();
}
