/* driver-contract.c: what the role wrappers do for drivers that leave
 * things out
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "test-utils.h"

/* A driver with a size and whatever capabilities the test gives, and no
 * vfunc but open: no pread, no pwrite, no flush. */
#define TEST_TYPE_BARE_BACKEND (test_bare_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestBareBackend, test_bare_backend, TEST, BARE_BACKEND,
                      ImgxferBackend)

struct _TestBareBackend
{
  ImgxferBackend parent_instance;
};

static void
bare_source_init (ImgxferSourceInterface *iface)
{
}

static void
bare_destination_init (ImgxferDestinationInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (
    TestBareBackend, test_bare_backend, IMGXFER_TYPE_BACKEND,
    G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_SOURCE, bare_source_init)
        G_IMPLEMENT_INTERFACE (IMGXFER_TYPE_DESTINATION, bare_destination_init))

static ImgxferBackendCaps bare_caps;

static gboolean
bare_open (ImgxferBackend *backend, GCancellable *cancellable, GError **error)
{
  imgxfer_backend_set_size (backend, 1024 * 1024);
  imgxfer_backend_set_caps (backend, bare_caps);
  return TRUE;
}

static void
test_bare_backend_class_init (TestBareBackendClass *klass)
{
  IMGXFER_BACKEND_CLASS (klass)->name = "bare";
  IMGXFER_BACKEND_CLASS (klass)->open = bare_open;
}

static void
test_bare_backend_init (TestBareBackend *self)
{
}

/* The same without open. */
#define TEST_TYPE_SHUT_BACKEND (test_shut_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestShutBackend, test_shut_backend, TEST, SHUT_BACKEND,
                      ImgxferBackend)

struct _TestShutBackend
{
  ImgxferBackend parent_instance;
};

G_DEFINE_FINAL_TYPE (TestShutBackend, test_shut_backend, IMGXFER_TYPE_BACKEND)

static void
test_shut_backend_class_init (TestShutBackendClass *klass)
{
}

static void
test_shut_backend_init (TestShutBackend *self)
{
}

static ImgxferBackend *
open_bare (ImgxferBackendCaps caps)
{
  g_autoptr (GError) error = NULL;
  ImgxferBackend *backend;

  bare_caps = caps;
  backend = g_initable_new (TEST_TYPE_BARE_BACKEND, NULL, &error, "url",
                            "bare:x", NULL);
  g_assert_no_error (error);
  return backend;
}

static void
assert_not_supported (const GError *error, const char *vfunc)
{
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "bare:x"));
  g_assert_nonnull (strstr (error->message, vfunc));
  g_test_message ("%s", error->message);
}

static void
test_missing_pread (void)
{
  g_autoptr (ImgxferBackend) backend = open_bare (0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *checksum = NULL;
  guint8 buffer[512];

  g_assert_false (imgxfer_source_pread (IMGXFER_SOURCE (backend), buffer,
                                        sizeof buffer, 0, NULL, &error));
  assert_not_supported (error, "pread");
  g_clear_error (&error);

  bytes = imgxfer_source_read_bytes (IMGXFER_SOURCE (backend), 512, 0, NULL,
                                     &error);
  g_assert_null (bytes);
  assert_not_supported (error, "pread");
  g_clear_error (&error);

  checksum = imgxfer_checksum_compute (backend, NULL, 0, 2, NULL, &error);
  g_assert_null (checksum);
  assert_not_supported (error, "pread");
}

static void
test_missing_pwrite (void)
{
  g_autoptr (ImgxferBackend) backend
      = open_bare (IMGXFER_BACKEND_CAN_WRITE | IMGXFER_BACKEND_CAN_ZERO);
  g_autoptr (GError) error = NULL;
  guint8 buffer[512] = { 0 };

  g_assert_false (imgxfer_destination_pwrite (
      IMGXFER_DESTINATION (backend), buffer, sizeof buffer, 0, NULL, &error));
  assert_not_supported (error, "pwrite");
  g_clear_error (&error);

  /* No zero vfunc either: zeroes are written, which fails the same way. */
  g_assert_false (imgxfer_destination_zero (
      IMGXFER_DESTINATION (backend), 0, 4096, IMGXFER_ZERO_NONE, NULL, &error));
  assert_not_supported (error, "pwrite");
}

static void
test_missing_open (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) backend = g_initable_new (TEST_TYPE_SHUT_BACKEND, NULL,
                                                &error, "url", "bare:x", NULL);

  g_assert_null (backend);
  assert_not_supported (error, "open");
}

/* A destination without CAN_FLUSH: flush succeeds doing nothing, and says
 * so at debug level, naming the driver. */
static void
test_flush_without_can_flush (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (ImgxferBackend) backend
          = open_bare (IMGXFER_BACKEND_CAN_WRITE);
      g_autoptr (GError) error = NULL;

      g_log_set_debug_enabled (TRUE);
      g_assert_true (imgxfer_destination_flush (IMGXFER_DESTINATION (backend),
                                                NULL, &error));
      g_assert_no_error (error);
      return;
    }

  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*bare:x: flush does nothing: the bare driver "
                             "has no flush*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/driver-contract/missing/pread", test_missing_pread);
  g_test_add_func ("/driver-contract/missing/pwrite", test_missing_pwrite);
  g_test_add_func ("/driver-contract/missing/open", test_missing_open);
  g_test_add_func ("/driver-contract/flush/no-op-logged",
                   test_flush_without_can_flush);

  return g_test_run ();
}
