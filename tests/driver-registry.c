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

static void
assert_same_strv (const char *const *class_strv, char **description_strv)
{
  g_assert_cmpuint (class_strv ? g_strv_length ((char **)class_strv) : 0, ==,
                    description_strv ? g_strv_length (description_strv) : 0);
  for (guint i = 0; description_strv && description_strv[i]; i++)
    g_assert_cmpstr (class_strv[i], ==, description_strv[i]);
}

static char *
description_string (GKeyFile *key_file, const char *key)
{
  g_autoptr (GError) error = NULL;
  char *value = g_key_file_get_string (key_file, "Driver", key, &error);

  g_assert_no_error (error);
  return value;
}

/* The registry picks a module by its description, before loading it: the
 * description must say what the class says. The tests link the modules'
 * drivers, which the lookups here return. */
static void
test_descriptions_match_classes (void)
{
  g_autofree char *dir_path = g_build_filename (
      g_getenv ("IMGXFER_BUILD_DIR"), "drivers", "modules", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *file;
  guint n_described = 0;

  g_assert_nonnull (dir);
  while ((file = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr (GKeyFile) key_file = g_key_file_new ();
      g_autoptr (GError) error = NULL;
      g_autofree char *name = NULL;
      g_autofree char *type_name = NULL;
      g_autofree char *module = NULL;
      g_autofree char *module_path = NULL;
      g_auto (GStrv) schemes = NULL;
      g_auto (GStrv) formats = NULL;
      g_auto (GStrv) signatures = NULL;
      g_autoptr (GTypeClass) klass = NULL;
      ImgxferBackendClass *backend_class;
      GType type;

      if (!g_str_has_suffix (file, ".driver"))
        continue;
      path = g_build_filename (dir_path, file, NULL);
      g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, &error);
      g_assert_no_error (error);
      name = description_string (key_file, "Name");
      type_name = description_string (key_file, "Type");
      module = description_string (key_file, "Module");
      schemes = g_key_file_get_string_list (key_file, "Driver", "Schemes",
                                            NULL, NULL);
      formats = g_key_file_get_string_list (key_file, "Driver", "Formats",
                                            NULL, NULL);
      signatures = g_key_file_get_string_list (key_file, "Driver",
                                               "Signatures", NULL, NULL);

      type = imgxfer_driver_lookup_name (name);
      g_assert_cmpstr (g_type_name (type), ==, type_name);
      klass = g_type_class_ref (type);
      backend_class = (ImgxferBackendClass *)klass;
      assert_same_strv (backend_class->schemes, schemes);
      assert_same_strv (backend_class->formats, formats);
      assert_same_strv (backend_class->signatures, signatures);
      g_assert_cmpint (g_key_file_get_boolean (key_file, "Driver", "Members",
                                               NULL),
                       ==, backend_class->list_members != NULL);
      module_path = g_build_filename (dir_path, module, NULL);
      g_assert_true (g_file_test (module_path, G_FILE_TEST_IS_REGULAR));
      /* Linked into this program: not taken from the module. */
      g_assert_null (imgxfer_driver_get_module_path (type));
      n_described++;
    }
  g_assert_cmpuint (n_described, ==, 5);
}

/* A described module that cannot be loaded costs nothing until a lookup
 * matches its description; then it fails that lookup with a warning.
 * Probing takes the signatures of its formats from the description. */
static void
test_description_loads_on_demand (void)
{
  static const char description[]
      = "[Driver]\nName=broken\nType=ImgxferBrokenBackend\n"
        "Module=imgxfer-broken.so\nSchemes=broken;\nFormats=brokenfmt;\n"
        "Signatures=brokenfmt:0x8:425252;brokenfmt:8;\n";
  char *dir;
  g_autofree char *path = NULL;
  g_autofree char *image = NULL;
  g_autoptr (GError) error = NULL;

  if (g_test_subprocess ())
    {
      g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
      g_autoptr (ImgxferBackend) raw = NULL;

      /* Seen on stderr rather than fatal. */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      g_setenv ("IMGXFER_DRIVER_PATH", g_getenv ("TEST_DESCRIBED_DIR"),
                TRUE);
      g_assert_cmpstr (g_type_name (imgxfer_driver_lookup_url ("/x", NULL)),
                       ==, "ImgxferFileBackend");
      g_assert_cmpuint (imgxfer_driver_lookup_format ("broken"), ==,
                        G_TYPE_INVALID);
      g_assert_cmpuint (imgxfer_driver_lookup_name ("nbd"), !=,
                        G_TYPE_INVALID);
      imgxfer_open_options_set_format (options, "raw");
      raw = imgxfer_open (g_getenv ("TEST_IMAGE"), options, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (imgxfer_probe_format (raw, NULL, &error), ==,
                       "brokenfmt");
      g_assert_no_error (error);
      g_printerr ("not loaded yet\n");

      g_assert_cmpuint (imgxfer_driver_lookup_url ("broken://x", &error), ==,
                        G_TYPE_INVALID);
      g_assert_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL);
      return;
    }

  dir = test_tmpdir_new ();
  path = g_build_filename (dir, "broken.driver", NULL);
  g_file_set_contents (path, description, -1, &error);
  g_assert_no_error (error);
  image = g_build_filename (dir, "image", NULL);
  g_file_set_contents (image, "12345678BRR and more", -1, &error);
  g_assert_no_error (error);
  g_setenv ("TEST_DESCRIBED_DIR", dir, TRUE);
  g_setenv ("TEST_IMAGE", image, TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*malformed signature \"brokenfmt:8\"*"
                             "not loaded yet\n*Cannot load driver module "
                             "*imgxfer-broken.so*");
  test_tmpdir_free (dir);
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

  g_test_add_func ("/driver-registry/descriptions-match-classes",
                   test_descriptions_match_classes);
  g_test_add_func ("/driver-registry/description-loads-on-demand",
                   test_description_loads_on_demand);

  return g_test_run ();
}
