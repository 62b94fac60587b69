/* imgxfer-driver.c: the driver registry and the driver module loader
 *
 * A driver is a subclass of ImgxferBackend; its class says which URL
 * schemes and formats it opens, so a URL is resolved without making an
 * instance. Built-in drivers register first, then the modules found in
 * IMGXFER_DRIVER_PATH and in the installed drivers folder, in that order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gmodule.h>
#include <string.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-driver-private.h"

typedef struct
{
  GType type;
  char *module_path; /* NULL for built-in drivers */
} Driver;

static GMutex registry_lock;
static GArray *registry; /* of Driver */
static const char *loading_module;

void
imgxfer_driver_register (GType backend_type)
{
  Driver driver = { backend_type, g_strdup (loading_module) };

  g_return_if_fail (g_type_is_a (backend_type, IMGXFER_TYPE_BACKEND));

  g_mutex_lock (&registry_lock);
  g_array_append_val (registry, driver);
  g_mutex_unlock (&registry_lock);
}

static void
load_module (const char *path)
{
  GModule *module;
  const guint32 *abi;
  void (*register_func) (void);

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_warning ("Cannot load driver module %s: %s", path,
                 g_module_error ());
      return;
    }

  if (!g_module_symbol (module, "imgxfer_driver_module_abi", (void **)&abi)
      || !g_module_symbol (module, "imgxfer_driver_module_register",
                           (void **)&register_func))
    {
      g_warning ("%s is not an imgxfer driver module", path);
      g_module_close (module);
      return;
    }

  if (*abi != IMGXFER_DRIVER_ABI_VERSION)
    {
      g_warning ("Driver module %s was built for driver ABI %u, not %u; "
                 "skipped", path, *abi, IMGXFER_DRIVER_ABI_VERSION);
      g_module_close (module);
      return;
    }

  /* Types cannot be unregistered, so the module stays loaded. */
  g_module_make_resident (module);
  loading_module = path;
  register_func ();
  loading_module = NULL;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

static void
load_modules_in (const char *dir_path)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return;

  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, "." G_MODULE_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));

  /* Load in a stable order so that resolution does not depend on the
   * file system's. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir_path, names->pdata[i],
                                                NULL);
      load_module (path);
    }
}

static gpointer
init_registry (gpointer data)
{
  const char *env = g_getenv ("IMGXFER_DRIVER_PATH");

  registry = g_array_new (FALSE, FALSE, sizeof (Driver));
  _imgxfer_register_builtin_drivers ();

  if (env != NULL)
    {
      g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; dirs[i] != NULL; i++)
        if (dirs[i][0] != '\0')
          load_modules_in (dirs[i]);
    }
  load_modules_in (IMGXFER_DRIVERS_DIR);

  return NULL;
}

static void
ensure_registry (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, init_registry, NULL);
}

/* "nbd+unix:///x" -> "nbd+unix"; "/path", "./x", "x" -> "" */
char *
_imgxfer_url_scheme (const char *url)
{
  const char *p = url;

  if (!g_ascii_isalpha (*p))
    return g_strdup ("");
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  if (*p != ':')
    return g_strdup ("");
  return g_ascii_strdown (url, p - url);
}

static gboolean
strv_contains_nocase (const char *const *strv, const char *str)
{
  for (; strv != NULL && *strv != NULL; strv++)
    if (g_ascii_strcasecmp (*strv, str) == 0)
      return TRUE;
  return FALSE;
}

typedef gboolean (*DriverMatch) (ImgxferBackendClass *klass,
                                 const char *key);

static GType
find_driver (DriverMatch match, const char *key)
{
  GType found = G_TYPE_INVALID;

  ensure_registry ();

  g_mutex_lock (&registry_lock);
  for (guint i = 0; i < registry->len && found == G_TYPE_INVALID; i++)
    {
      GType type = g_array_index (registry, Driver, i).type;
      g_autoptr (GTypeClass) klass = g_type_class_ref (type);

      if (match ((ImgxferBackendClass *)klass, key))
        found = type;
    }
  g_mutex_unlock (&registry_lock);

  return found;
}

static gboolean
match_scheme (ImgxferBackendClass *klass, const char *scheme)
{
  return strv_contains_nocase (klass->schemes, scheme);
}

static gboolean
match_format (ImgxferBackendClass *klass, const char *format)
{
  return strv_contains_nocase (klass->formats, format);
}

static gboolean
match_name (ImgxferBackendClass *klass, const char *name)
{
  return g_strcmp0 (klass->name, name) == 0;
}

/**
 * imgxfer_driver_lookup_url:
 * @url: a path or URL
 * @error: return location for a #GError
 *
 * Returns: the backend type of the driver that opens @url's scheme, or
 *   %G_TYPE_INVALID with %IMGXFER_ERROR_UNKNOWN_URL
 */
GType
imgxfer_driver_lookup_url (const char *url, GError **error)
{
  g_autofree char *scheme = NULL;
  GType type;

  g_return_val_if_fail (url != NULL, G_TYPE_INVALID);

  scheme = _imgxfer_url_scheme (url);
  type = find_driver (match_scheme, scheme);
  if (type == G_TYPE_INVALID)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL,
                 "%s: no driver for URL scheme \"%s\" (see `imgxfer drivers`)",
                 url, scheme);
  return type;
}

/**
 * imgxfer_driver_lookup_format:
 * @format: an image format such as "qcow2"
 *
 * Returns: the backend type of the format driver for @format, or
 *   %G_TYPE_INVALID
 */
GType
imgxfer_driver_lookup_format (const char *format)
{
  g_return_val_if_fail (format != NULL, G_TYPE_INVALID);
  return find_driver (match_format, format);
}

/**
 * imgxfer_driver_lookup_name:
 * @name: a driver name such as "file"
 *
 * Returns: the backend type of that driver, or %G_TYPE_INVALID
 */
GType
imgxfer_driver_lookup_name (const char *name)
{
  g_return_val_if_fail (name != NULL, G_TYPE_INVALID);
  return find_driver (match_name, name);
}

/**
 * imgxfer_driver_list:
 * @n_drivers: (out) (optional): the number of drivers
 *
 * Returns: (transfer full) (array length=n_drivers zero-terminated=1): the
 *   backend types of all registered drivers, in resolution order
 */
GType *
imgxfer_driver_list (guint *n_drivers)
{
  GType *types;

  ensure_registry ();

  g_mutex_lock (&registry_lock);
  types = g_new0 (GType, registry->len + 1);
  for (guint i = 0; i < registry->len; i++)
    types[i] = g_array_index (registry, Driver, i).type;
  if (n_drivers)
    *n_drivers = registry->len;
  g_mutex_unlock (&registry_lock);

  return types;
}

/**
 * imgxfer_driver_get_module_path:
 * @backend_type: a registered driver's backend type
 *
 * Returns: (nullable): the module file the driver came from, or %NULL for
 *   a built-in driver
 */
const char *
imgxfer_driver_get_module_path (GType backend_type)
{
  const char *path = NULL;

  ensure_registry ();

  g_mutex_lock (&registry_lock);
  for (guint i = 0; i < registry->len; i++)
    if (g_array_index (registry, Driver, i).type == backend_type)
      path = g_array_index (registry, Driver, i).module_path;
  g_mutex_unlock (&registry_lock);

  return path;
}
