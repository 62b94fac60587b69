/* driver-operations.c: imgxfer_create(), imgxfer_image_info() and
 * imgxfer_image_measure() reach the drivers of a format through the
 * registry, with drivers of a made-up format, "testfmt": the first passes
 * every request on, the second answers. imgxfer_checksum_compute() asks
 * a driver that has the checksum without reading, defined as a table
 * (IMGXFER_DEFINE_DRIVER). imgxfer_probe_format() recognizes another
 * made-up format, "sigfmt", by the signature its driver declares.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-utils.h"

#define TEST_FORMAT "testfmt"

static const char *const no_schemes[] = { NULL };
static const char *const test_formats[] = { TEST_FORMAT, NULL };

/* How often each driver was asked. */
static guint n_declined;
static guint n_answered;

/* The first driver of the format: declines everything. */
#define TEST_TYPE_DECLINING (test_declining_get_type ())
G_DECLARE_FINAL_TYPE (TestDeclining, test_declining, TEST, DECLINING,
                      ImgxferBackend)
struct _TestDeclining
{
  ImgxferBackend parent_instance;
};
G_DEFINE_FINAL_TYPE (TestDeclining, test_declining, IMGXFER_TYPE_BACKEND)

static gboolean
decline (const char *url, GError **error)
{
  n_declined++;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "%s: not for the declining driver", url);
  return FALSE;
}

static gboolean
declining_open (ImgxferBackend *backend, GCancellable *cancellable,
                GError **error)
{
  return decline (imgxfer_backend_get_url (backend), error);
}

static ImgxferBackend *
declining_create (ImgxferBackendClass *klass, const char *url,
                  const char *format, guint64 size, const char *backing_file,
                  const char *backing_format, ImgxferOpenOptions *options,
                  GCancellable *cancellable, GError **error)
{
  decline (url, error);
  return NULL;
}

static JsonNode *
declining_info (ImgxferBackendClass *klass, const char *url,
                ImgxferOpenOptions *options, GCancellable *cancellable,
                GError **error)
{
  decline (url, error);
  return NULL;
}

static void
test_declining_class_init (TestDecliningClass *klass)
{
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  backend_class->name = "test-declining";
  backend_class->schemes = no_schemes;
  backend_class->formats = test_formats;
  backend_class->open = declining_open;
  backend_class->create = declining_create;
  backend_class->info = declining_info;
  /* No measure: the library skips it. */
}

static void
test_declining_init (TestDeclining *self)
{
}

/* The second: images of the format are memory images of their size. */
#define TEST_TYPE_ANSWERING (test_answering_get_type ())
G_DECLARE_FINAL_TYPE (TestAnswering, test_answering, TEST, ANSWERING,
                      ImgxferBackend)
struct _TestAnswering
{
  ImgxferBackend parent_instance;
};
G_DEFINE_FINAL_TYPE (TestAnswering, test_answering, IMGXFER_TYPE_BACKEND)

static gboolean
answering_open (ImgxferBackend *backend, GCancellable *cancellable,
                GError **error)
{
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "%s: the answering driver only creates",
               imgxfer_backend_get_url (backend));
  return FALSE;
}

static ImgxferBackend *
answering_create (ImgxferBackendClass *klass, const char *url,
                  const char *format, guint64 size, const char *backing_file,
                  const char *backing_format, ImgxferOpenOptions *options,
                  GCancellable *cancellable, GError **error)
{
  g_autofree char *memory_url = NULL;
  g_autoptr (ImgxferOpenOptions) memory_options = NULL;

  n_answered++;
  /* What the library hands over. */
  g_assert_cmpstr (format, ==, TEST_FORMAT);
  g_assert_cmpstr (imgxfer_open_options_get_format (options), ==, TEST_FORMAT);
  g_assert_true (imgxfer_open_options_get_writable (options));
  g_assert_cmpstr (backing_file, ==, "base.img");
  g_assert_cmpstr (backing_format, ==, "raw");

  /* The memory image holds the data itself: raw, not the format. */
  memory_url = g_strdup_printf ("memory:?size=%" G_GUINT64_FORMAT, size);
  memory_options = imgxfer_open_options_copy (options);
  imgxfer_open_options_set_format (memory_options, "raw");
  return imgxfer_open (memory_url, memory_options, cancellable, error);
}

static JsonNode *
answering_info (ImgxferBackendClass *klass, const char *url,
                ImgxferOpenOptions *options, GCancellable *cancellable,
                GError **error)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  n_answered++;
  json_node_take_object (node, object);
  json_object_set_string_member (object, "filename", url);
  json_object_set_string_member (object, "format",
                                 imgxfer_open_options_get_format (options));
  json_object_set_int_member (object, "virtual-size", 12345);
  return node;
}

static JsonNode *
answering_measure (ImgxferBackendClass *klass, const char *url,
                   ImgxferOpenOptions *options, const char *target_format,
                   GCancellable *cancellable, GError **error)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  n_answered++;
  g_assert_cmpstr (target_format, ==, TEST_FORMAT);
  json_node_take_object (node, object);
  json_object_set_int_member (object, "required", 42);
  json_object_set_int_member (object, "fully-allocated", 4242);
  return node;
}

static void
test_answering_class_init (TestAnsweringClass *klass)
{
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  backend_class->name = "test-answering";
  backend_class->schemes = no_schemes;
  backend_class->formats = test_formats;
  backend_class->open = answering_open;
  backend_class->create = answering_create;
  backend_class->info = answering_info;
  backend_class->measure = answering_measure;
}

static void
test_answering_init (TestAnswering *self)
{
}

/* "test-sum:answer", "test-sum:decline", "test-sum:fail": 1 MiB of
 * zeroes, whose driver gives the checksum, leaves it to the reads, or
 * fails. */
G_DECLARE_FINAL_TYPE (TestSum, test_sum, TEST, SUM, ImgxferBackend)
struct _TestSum
{
  ImgxferBackend parent_instance;
};

static gboolean
sum_open (ImgxferBackend *backend, GCancellable *cancellable, GError **error)
{
  imgxfer_backend_set_size (backend, 1 << 20);
  imgxfer_backend_set_max_connections (backend, 4);
  return TRUE;
}

static gboolean
sum_pread (ImgxferSource *source, void *buffer, gsize length, guint64 offset,
           GCancellable *cancellable, GError **error)
{
  memset (buffer, 0, length);
  return TRUE;
}

static char *
sum_checksum (ImgxferBackend *backend, const char *algorithm,
              gsize block_size, GCancellable *cancellable, GError **error)
{
  const char *url = imgxfer_backend_get_url (backend);

  if (g_str_has_suffix (url, ":answer"))
    return g_strdup_printf ("%s/%" G_GSIZE_FORMAT, algorithm, block_size);
  g_set_error (error, G_IO_ERROR,
               g_str_has_suffix (url, ":decline") ? G_IO_ERROR_NOT_SUPPORTED
                                                  : G_IO_ERROR_FAILED,
               "%s: no checksum here", url);
  return NULL;
}

static const char *const sum_schemes[] = { "test-sum", NULL };

static const ImgxferDriverSpec sum_driver = {
  .name = "test-sum",
  .schemes = sum_schemes,
  .open = sum_open,
  .checksum = sum_checksum,
  .pread = sum_pread,
};

IMGXFER_DEFINE_DRIVER (TestSum, test_sum, &sum_driver)

/* "sigfmt" images: "SIGFMT" at offset 16, which the driver checks
 * through the protocol level; it reads as 1234 bytes of 0x5a whatever
 * the file holds. */
#define SIG_FORMAT "sigfmt"
#define SIG_SIZE 1234

G_DECLARE_FINAL_TYPE (TestSig, test_sig, TEST, SIG, ImgxferBackend)
struct _TestSig
{
  ImgxferBackend parent_instance;
};

static gboolean
sig_open (ImgxferBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferBackend) protocol = NULL;
  char magic[6];

  g_assert_cmpstr (
      imgxfer_open_options_get_format (imgxfer_backend_get_options (backend)),
      ==, SIG_FORMAT);
  /* The probed one when it was probed, else opened now: raw bytes. */
  protocol = imgxfer_backend_open_protocol (backend, cancellable, error);
  if (protocol == NULL
      || !imgxfer_source_pread (IMGXFER_SOURCE (protocol), magic,
                                sizeof magic, 16, cancellable, error))
    return FALSE;
  g_assert_cmpmem (magic, sizeof magic, "SIGFMT", 6);
  imgxfer_backend_set_size (backend, SIG_SIZE);
  return imgxfer_backend_close (protocol, IMGXFER_CLOSE_NONE, cancellable,
                                error);
}

static gboolean
sig_pread (ImgxferSource *source, void *buffer, gsize length, guint64 offset,
           GCancellable *cancellable, GError **error)
{
  memset (buffer, 0x5a, length);
  return TRUE;
}

static const char *const sig_formats[] = { SIG_FORMAT, NULL };
/* "SIGFMT" at 0x10. */
static const char *const sig_signatures[]
    = { SIG_FORMAT ":0x10:534947464d54", NULL };

static const ImgxferDriverSpec sig_driver = {
  .name = "test-sig",
  .schemes = no_schemes,
  .formats = sig_formats,
  .signatures = sig_signatures,
  .open = sig_open,
  .pread = sig_pread,
};

IMGXFER_DEFINE_DRIVER (TestSig, test_sig, &sig_driver)

/* The format probed from a local file holding @contents. */
static char *
probe_file (const char *dir, const char *contents, gsize length)
{
  g_autofree char *path = g_build_filename (dir, "probed.img", NULL);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) raw = NULL;
  g_autoptr (GError) error = NULL;
  const char *format;

  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
  imgxfer_open_options_set_format (options, "raw");
  raw = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);
  format = imgxfer_probe_format (raw, NULL, &error);
  g_assert_no_error (error);
  return g_strdup (format);
}

/* The signature names the format only where it says, all of it. */
static void
test_probe_signature (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  static const char exact[] = "0123456789abcdefSIGFMT";
  g_autofree char *at_end = probe_file (dir, exact, strlen (exact));
  g_autofree char *further = probe_file (dir, "0123456789abcdefSIGFMT and on",
                                         29);
  g_autofree char *shifted = probe_file (dir, "0123456789abcdeSIGFMT and on",
                                         28);
  g_autofree char *cut = probe_file (dir, exact, strlen (exact) - 1);
  g_autofree char *empty = probe_file (dir, "", 0);

  g_assert_cmpstr (at_end, ==, SIG_FORMAT);
  g_assert_cmpstr (further, ==, SIG_FORMAT);
  g_assert_cmpstr (shifted, ==, "raw");
  g_assert_cmpstr (cut, ==, "raw");
  g_assert_cmpstr (empty, ==, "raw");
  test_tmpdir_free (g_steal_pointer (&dir));
}

/* imgxfer_open() probes a local source and stacks the format's driver,
 * which reads the format's bytes through the protocol level. */
static void
test_open_probed (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "disk.img", NULL);
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;
  guint8 byte = 0;

  g_file_set_contents (path, "0123456789abcdefSIGFMT, then data", -1, &error);
  g_assert_no_error (error);
  backend = imgxfer_open (path, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (IMGXFER_BACKEND_GET_CLASS (backend)->name, ==, "test-sig");
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, SIG_SIZE);
  g_assert_true (imgxfer_source_pread (IMGXFER_SOURCE (backend), &byte, 1,
                                       SIG_SIZE - 1, NULL, &error));
  g_assert_cmphex (byte, ==, 0x5a);
  g_clear_object (&backend);

  /* Given, not probed: the driver opens the protocol level itself. */
  imgxfer_open_options_set_format (options, SIG_FORMAT);
  backend = imgxfer_open (path, options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (IMGXFER_BACKEND_GET_CLASS (backend)->name, ==, "test-sig");
  g_clear_object (&backend);
  test_tmpdir_free (g_steal_pointer (&dir));
}

static char *
checksum_of (const char *url, GError **error)
{
  g_autoptr (ImgxferBackend) backend = imgxfer_open (url, NULL, NULL, error);

  g_assert_nonnull (backend);
  return imgxfer_checksum_compute (backend, NULL, 0, 0, NULL, error);
}

/* The table made a source (pread) and no destination (no pwrite). */
static void
test_spec_roles (void)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  backend = imgxfer_open ("test-sum:answer", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (IMGXFER_IS_SOURCE (backend));
  g_assert_false (IMGXFER_IS_DESTINATION (backend));
  g_assert_cmpstr (IMGXFER_BACKEND_GET_CLASS (backend)->name, ==, "test-sum");
}

static void
test_checksum (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *answered = checksum_of ("test-sum:answer", &error);
  g_autofree char *computed = NULL;
  g_autofree char *zeroes = NULL;
  g_autofree char *failed = NULL;

  /* The defaults, resolved before the driver is asked. */
  g_assert_no_error (error);
  g_assert_cmpstr (answered, ==, "blake2b/4194304");

  computed = checksum_of ("test-sum:decline", &error);
  g_assert_no_error (error);
  zeroes = checksum_of ("memory:?size=1m", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (computed, ==, zeroes);

  failed = checksum_of ("test-sum:fail", &error);
  g_assert_null (failed);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "test-sum:fail"));
}

static void
reset_counts (void)
{
  n_declined = 0;
  n_answered = 0;
}

static void
test_list_format (void)
{
  guint n = 0;
  g_autofree GType *types = imgxfer_driver_list_format ("TESTFMT", &n);

  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (types[0], ==, TEST_TYPE_DECLINING);
  g_assert_cmpuint (types[1], ==, TEST_TYPE_ANSWERING);
  g_assert_cmpuint (types[2], ==, G_TYPE_INVALID);
  g_assert_cmpuint (imgxfer_driver_lookup_format (TEST_FORMAT), ==,
                    TEST_TYPE_DECLINING);
}

static void
test_create (void)
{
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  reset_counts ();
  backend = imgxfer_create ("/nonexistent/new.img", TEST_FORMAT, 3 << 20,
                            "base.img", "raw", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_declined, ==, 1);
  g_assert_cmpuint (n_answered, ==, 1);
  g_assert_cmpuint (imgxfer_backend_get_size (backend), ==, 3 << 20);
  /* A backing file may show through: not known to be zero. */
  g_assert_false (imgxfer_backend_get_caps (backend) & IMGXFER_BACKEND_IS_ZERO);
}

static void
test_info (void)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (JsonNode) info = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *object;

  reset_counts ();
  imgxfer_open_options_set_format (options, TEST_FORMAT);
  info = imgxfer_image_info ("/nonexistent/x.img", options, NULL, &error);
  g_assert_no_error (error);
  object = json_node_get_object (info);
  g_assert_cmpstr (json_object_get_string_member (object, "format"), ==,
                   TEST_FORMAT);
  g_assert_cmpstr (json_object_get_string_member (object, "filename"), ==,
                   "/nonexistent/x.img");
  g_assert_cmpint (json_object_get_int_member (object, "virtual-size"), ==,
                   12345);
  g_assert_cmpuint (n_declined, ==, 1);
  g_assert_cmpuint (n_answered, ==, 1);
}

/* The target format's driver measures; the first has no measure. */
static void
test_measure (void)
{
  g_autoptr (JsonNode) measure = NULL;
  g_autoptr (GError) error = NULL;

  reset_counts ();
  measure = imgxfer_image_measure ("memory:?size=1m", NULL, TEST_FORMAT, NULL,
                                   &error);
  g_assert_no_error (error);
  g_assert_cmpint (
      json_object_get_int_member (json_node_get_object (measure), "required"),
      ==, 42);
  g_assert_cmpuint (n_declined, ==, 0);
  g_assert_cmpuint (n_answered, ==, 1);
}

/* When every driver passes, the error of the last one is the answer. */
static void
test_open_declined (void)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  reset_counts ();
  imgxfer_open_options_set_format (options, TEST_FORMAT);
  backend = imgxfer_open ("/nonexistent/x.img", options, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "only creates"));
  g_assert_cmpuint (n_declined, ==, 1);
}

/* Raw images are made by the protocol driver; a driver that cannot make
 * any says so. */
static void
test_create_raw (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "new.raw", NULL);
  g_autoptr (ImgxferBackend) backend = NULL;
  g_autoptr (GError) error = NULL;

  backend
      = imgxfer_create (path, NULL, 1 << 20, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (imgxfer_backend_get_caps (backend) & IMGXFER_BACKEND_IS_ZERO);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_clear_object (&backend);
  test_tmpdir_free (g_steal_pointer (&dir));

  backend = imgxfer_create ("nbd://localhost/x", "raw", 1 << 20, NULL, NULL,
                            NULL, NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "nbd://localhost/x"));
  g_clear_error (&error);

  backend = imgxfer_create ("/tmp/x", "nosuchformat", 1 << 20, NULL, NULL, NULL,
                            NULL, &error);
  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "nosuchformat"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  imgxfer_driver_register (TEST_TYPE_DECLINING);
  imgxfer_driver_register (TEST_TYPE_ANSWERING);
  imgxfer_driver_register (test_sum_get_type ());
  imgxfer_driver_register (test_sig_get_type ());

  g_test_add_func ("/driver-operations/list-format", test_list_format);
  g_test_add_func ("/driver-operations/create", test_create);
  g_test_add_func ("/driver-operations/info", test_info);
  g_test_add_func ("/driver-operations/measure", test_measure);
  g_test_add_func ("/driver-operations/open-declined", test_open_declined);
  g_test_add_func ("/driver-operations/create-raw", test_create_raw);
  g_test_add_func ("/driver-operations/spec-roles", test_spec_roles);
  g_test_add_func ("/driver-operations/checksum", test_checksum);
  g_test_add_func ("/driver-operations/probe/signature",
                   test_probe_signature);
  g_test_add_func ("/driver-operations/probe/open", test_open_probed);

  return g_test_run ();
}
