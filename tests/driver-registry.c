/* driver-registry.c: resolving paths and URLs to drivers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "test-utils.h"

static void
assert_driver (const char *url, const char *name)
{
  g_autoptr (GError) error = NULL;
  GType type = imgxfer_driver_lookup_url (url, &error);
  g_autoptr (GTypeClass) klass = NULL;

  g_assert_no_error (error);
  klass = g_type_class_ref (type);
  g_assert_cmpstr (((ImgxferBackendClass *)klass)->name, ==, name);
}

static void
test_paths_are_files (void)
{
  assert_driver ("/var/tmp/disk.img", "file");
  assert_driver ("disk.img", "file");
  assert_driver ("./dir:with:colons/disk.img", "file");
  assert_driver ("file:///var/tmp/disk.img", "file");
  assert_driver ("FILE:///var/tmp/disk.img", "file");
}

static void
test_unknown_scheme (void)
{
  g_autoptr (GError) error = NULL;
  GType type = imgxfer_driver_lookup_url ("gopher://host/disk", &error);

  g_assert_cmpuint (type, ==, G_TYPE_INVALID);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL);
  g_assert_nonnull (strstr (error->message, "gopher://host/disk"));
}

static void
test_open_unknown_scheme (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImgxferBackend) backend
      = imgxfer_open ("gopher://host/disk", NULL, NULL, &error);

  g_assert_null (backend);
  g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL);
}

static void
test_list_has_builtins (void)
{
  guint n = 0;
  g_autofree GType *types = imgxfer_driver_list (&n);
  gboolean found_file = FALSE;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (types[i]);

      if (g_str_equal (((ImgxferBackendClass *)klass)->name, "file"))
        {
          found_file = TRUE;
          g_assert_null (imgxfer_driver_get_module_path (types[i]));
        }
    }
  g_assert_true (found_file);
  g_assert_cmpuint (types[n], ==, G_TYPE_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/driver-registry/paths-are-files", test_paths_are_files);
  g_test_add_func ("/driver-registry/unknown-scheme", test_unknown_scheme);
  g_test_add_func ("/driver-registry/open-unknown-scheme",
                   test_open_unknown_scheme);
  g_test_add_func ("/driver-registry/list-has-builtins",
                   test_list_has_builtins);

  return g_test_run ();
}
