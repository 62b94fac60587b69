/* imgxfer-driver.c: the driver registry and the driver module loader
 *
 * A driver is a subclass of ImgxferBackend; its class says which URL
 * schemes and formats it opens, so a URL is resolved without making an
 * instance. Built-in drivers register first, then the modules found in
 * IMGXFER_DRIVER_PATH and in the drivers folder, folder by folder.
 *
 * A module may come with a description, a key file NAME.driver beside it
 * that names the module, its driver's type, the schemes and formats
 * the driver opens and the signatures of those formats (so that probing
 * an image loads no module). Such a module is loaded by the first lookup
 * that its description matches, so that a program pays for a driver's
 * libraries (libnbd, libarchive and theirs: most of the start-up time)
 * only when it uses the driver. A module without a description is loaded
 * when the registry starts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dlfcn.h>
#include <gmodule.h>
#include <stdlib.h>
#include <string.h>

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-driver-private.h"

#define DESCRIPTION_SUFFIX ".driver"
#define DESCRIPTION_GROUP "Driver"

typedef struct
{
  GType type;        /* G_TYPE_INVALID while a described module is not
                        loaded */
  char *module_path; /* NULL for a driver linked into the program */

  /* A described module's description; NULL for the other drivers. */
  char *name;
  char *type_name;
  GStrv schemes;
  GStrv formats;
  GStrv signatures; /* of the formats, valid ones only */
  gboolean members; /* it opens and lists members of archives */
  gboolean unusable; /* its module failed to load, or its type is some
                        other driver's */
} Driver;

/* Recursive: a lookup loads modules with the lock held, and a module
 * registers its drivers as it loads. */
static GRecMutex registry_lock;
static GPtrArray *registry; /* of Driver *, in resolution order */
static const char *loading_module;

/* With the lock held. */
static void
ensure_registry_array (void)
{
  if (registry == NULL)
    registry = g_ptr_array_new ();
}

/* The described driver waiting for the type called @type_name. */
static Driver *
find_description (const char *type_name)
{
  for (guint i = 0; i < registry->len; i++)
    {
      Driver *driver = g_ptr_array_index (registry, i);

      if (driver->type == G_TYPE_INVALID
          && g_strcmp0 (driver->type_name, type_name) == 0)
        return driver;
    }
  return NULL;
}

static gboolean
has_driver (GType type)
{
  for (guint i = 0; i < registry->len; i++)
    if (((Driver *)g_ptr_array_index (registry, i))->type == type)
      return TRUE;
  return FALSE;
}

/**
 * imgxfer_driver_register:
 * @backend_type: an #ImgxferBackend subclass
 *
 * Adds a driver to the registry, after those already there: when several
 * drivers open the same URL scheme or format, the first registered wins.
 * A driver module calls this from the function it names in
 * IMGXFER_DEFINE_DRIVER_MODULE(); a program may also register a driver it
 * links itself. Registering a type that a driver description (a
 * `.driver` file) announced puts it in that description's place.
 * Thread safe.
 *
 * Since: 0.1
 */
void
imgxfer_driver_register (GType backend_type)
{
  Driver *driver;

  g_return_if_fail (g_type_is_a (backend_type, IMGXFER_TYPE_BACKEND));

  g_rec_mutex_lock (&registry_lock);
  ensure_registry_array ();
  driver = find_description (g_type_name (backend_type));
  if (driver != NULL)
    {
      /* A described module has loaded, or a program registers a driver
       * that it links itself; the description keeps its place. */
      driver->type = backend_type;
      if (loading_module == NULL)
        g_clear_pointer (&driver->module_path, g_free);
    }
  else
    {
      driver = g_new0 (Driver, 1);
      driver->type = backend_type;
      driver->module_path = g_strdup (loading_module);
      g_ptr_array_add (registry, driver);
    }
  g_rec_mutex_unlock (&registry_lock);
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

/* Gives a described driver its type, loading its module unless a program
 * that links the driver itself (the tests) has the type already. A module
 * may hold several described drivers: loading it for one fills in the
 * others (imgxfer_driver_register() finds them by type name). */
static gboolean
load_described (Driver *driver)
{
  GType type;

  if (driver->type != G_TYPE_INVALID)
    return TRUE;
  if (driver->unusable)
    return FALSE;

  type = g_type_from_name (driver->type_name);
  if (type == G_TYPE_INVALID)
    {
      load_module (driver->module_path);
      if (driver->type == G_TYPE_INVALID)
        {
          if (g_type_from_name (driver->type_name) != G_TYPE_INVALID)
            g_warning ("Driver module %s did not register %s",
                       driver->module_path, driver->type_name);
          driver->unusable = TRUE;
        }
    }
  else if (g_type_is_a (type, IMGXFER_TYPE_BACKEND) && !has_driver (type))
    driver->type = type;
  else
    driver->unusable = TRUE;

  return driver->type != G_TYPE_INVALID;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *)a, *(const char *const *)b);
}

/* The Signatures of a description, without the malformed ones, which
 * are reported once, here. */
static GStrv
valid_signatures (const char *path, GKeyFile *key_file)
{
  g_auto (GStrv) signatures = g_key_file_get_string_list (
      key_file, DESCRIPTION_GROUP, "Signatures", NULL, NULL);
  g_autoptr (GStrvBuilder) valid = g_strv_builder_new ();

  for (guint i = 0; signatures != NULL && signatures[i] != NULL; i++)
    if (_imgxfer_signature_is_valid (signatures[i]))
      g_strv_builder_add (valid, signatures[i]);
    else
      g_warning ("Driver description %s: malformed signature \"%s\" "
                 "(FORMAT:OFFSET:HEX expected)", path, signatures[i]);
  return g_strv_builder_end (valid);
}

/* Adds the driver that @file describes; its module's file name goes into
 * @described. */
static void
add_description (const char *dir_path, const char *file, GHashTable *described)
{
  g_autofree char *path = g_build_filename (dir_path, file, NULL);
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *type_name = NULL;
  g_autofree char *module = NULL;
  Driver *driver;

  if (!g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, &error)
      || (name = g_key_file_get_string (key_file, DESCRIPTION_GROUP, "Name",
                                        &error))
             == NULL
      || (type_name = g_key_file_get_string (key_file, DESCRIPTION_GROUP,
                                             "Type", &error))
             == NULL
      || (module = g_key_file_get_string (key_file, DESCRIPTION_GROUP,
                                          "Module", &error))
             == NULL)
    {
      g_warning ("Driver description %s: %s", path, error->message);
      return;
    }
  if (strchr (module, '/') != NULL)
    {
      g_warning ("Driver description %s: Module must be a file name in the "
                 "same folder, not %s", path, module);
      return;
    }

  g_hash_table_add (described, g_strdup (module));
  if (g_type_from_name (type_name) != G_TYPE_INVALID
      && has_driver (g_type_from_name (type_name)))
    return;

  driver = g_new0 (Driver, 1);
  driver->module_path = g_build_filename (dir_path, module, NULL);
  driver->name = g_steal_pointer (&name);
  driver->type_name = g_steal_pointer (&type_name);
  driver->schemes = g_key_file_get_string_list (key_file, DESCRIPTION_GROUP,
                                                "Schemes", NULL, NULL);
  driver->formats = g_key_file_get_string_list (key_file, DESCRIPTION_GROUP,
                                                "Formats", NULL, NULL);
  driver->members = g_key_file_get_boolean (key_file, DESCRIPTION_GROUP,
                                            "Members", NULL);
  driver->signatures = valid_signatures (path, key_file);
  g_ptr_array_add (registry, driver);
}

/* The described modules of @dir_path come first, then the others, which
 * are loaded now; each kind in name order, so that resolution does not
 * depend on the file system's order. */
static void
add_modules_in (const char *dir_path)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) described
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;

  if (dir == NULL)
    return;

  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, "." G_MODULE_SUFFIX)
        || g_str_has_suffix (name, DESCRIPTION_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    if (g_str_has_suffix (names->pdata[i], DESCRIPTION_SUFFIX))
      add_description (dir_path, names->pdata[i], described);

  for (guint i = 0; i < names->len; i++)
    if (g_str_has_suffix (names->pdata[i], "." G_MODULE_SUFFIX)
        && !g_hash_table_contains (described, names->pdata[i]))
      {
        g_autofree char *path = g_build_filename (dir_path, names->pdata[i],
                                                  NULL);
        load_module (path);
      }
}

/* The installed drivers folder; or the build tree's, for the library
 * built there or a program linking its static copy (the tests): a build
 * runs without being installed, with the modules built beside it, and an
 * installed library never looks into a build tree. */
static const char *
drivers_dir (void)
{
  Dl_info info;
  g_autofree char *self = NULL;
  g_autofree char *build_root = NULL;
  gsize length;

  /* A static variable: the address of an exported function could be a
   * stub in the program. */
  if (dladdr (&registry_lock, &info) == 0
      || info.dli_fname == NULL)
    return IMGXFER_DRIVERS_DIR;

  self = realpath (info.dli_fname, NULL);
  build_root = realpath (IMGXFER_BUILD_ROOT, NULL);
  if (self == NULL || build_root == NULL)
    return IMGXFER_DRIVERS_DIR;
  length = strlen (build_root);
  if (strncmp (self, build_root, length) == 0 && self[length] == '/')
    return IMGXFER_BUILD_DRIVERS_DIR;
  return IMGXFER_DRIVERS_DIR;
}

static gpointer
init_registry (gpointer data)
{
  const char *env = g_getenv ("IMGXFER_DRIVER_PATH");

  g_rec_mutex_lock (&registry_lock);
  ensure_registry_array ();
  _imgxfer_register_builtin_drivers ();

  if (env != NULL)
    {
      g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; dirs[i] != NULL; i++)
        if (dirs[i][0] != '\0')
          add_modules_in (dirs[i]);
    }
  add_modules_in (drivers_dir ());
  g_rec_mutex_unlock (&registry_lock);

  return NULL;
}

static void
ensure_registry (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, init_registry, NULL);
}

static gboolean
strv_contains_nocase (const char *const *strv, const char *str)
{
  for (; strv != NULL && *strv != NULL; strv++)
    if (g_ascii_strcasecmp (*strv, str) == 0)
      return TRUE;
  return FALSE;
}

typedef enum
{
  MATCH_SCHEME,
  MATCH_FORMAT,
  MATCH_NAME,
  MATCH_MEMBERS,
} Match;

/* The same test for a class and for a description. */
static gboolean
matches (Match how,
         const char *key,
         const char *name,
         const char *const *schemes,
         const char *const *formats,
         gboolean members)
{
  switch (how)
    {
    case MATCH_MEMBERS:
      return members;
    case MATCH_SCHEME:
      return strv_contains_nocase (schemes, key);
    case MATCH_FORMAT:
      return strv_contains_nocase (formats, key);
    case MATCH_NAME:
      return g_strcmp0 (name, key) == 0;
    }
  g_assert_not_reached ();
}

/* The drivers that match, in resolution order: all of them into @all, or
 * only the first. */
static GType
find_drivers (Match how, const char *key, GArray *all)
{
  GType found = G_TYPE_INVALID;

  ensure_registry ();

  g_rec_mutex_lock (&registry_lock);
  /* Loading a module may add drivers, so registry->len is read anew. */
  for (guint i = 0; i < registry->len && (all || found == G_TYPE_INVALID); i++)
    {
      Driver *driver = g_ptr_array_index (registry, i);
      g_autoptr (GTypeClass) klass = NULL;
      ImgxferBackendClass *backend_class;

      /* The class has the last word: a description only says whether the
       * module is worth loading. */
      if (driver->type == G_TYPE_INVALID
          && !(matches (how, key, driver->name,
                        (const char *const *)driver->schemes,
                        (const char *const *)driver->formats,
                        driver->members)
               && load_described (driver)))
        continue;

      klass = g_type_class_ref (driver->type);
      backend_class = (ImgxferBackendClass *)klass;
      if (!matches (how, key, backend_class->name, backend_class->schemes,
                    backend_class->formats,
                    backend_class->list_members != NULL))
        continue;
      if (found == G_TYPE_INVALID)
        found = driver->type;
      if (all)
        g_array_append_val (all, driver->type);
    }
  g_rec_mutex_unlock (&registry_lock);

  return found;
}

static GType
find_driver (Match how, const char *key)
{
  return find_drivers (how, key, NULL);
}

/**
 * imgxfer_driver_lookup_url:
 * @url: a path or URL
 * @error: return location for a #GError
 *
 * Finds the driver that opens @url, by its scheme (the empty scheme for a
 * plain path), loading the driver's module if needed. Thread safe.
 *
 * Returns: the backend type of the driver, or %G_TYPE_INVALID with
 *   %IMGXFER_ERROR_INVALID_ARGUMENT when @url does not parse
 *   (imgxfer_url_parse()) or %IMGXFER_ERROR_UNKNOWN_URL when no driver
 *   opens its scheme
 *
 * Since: 0.1
 */
GType
imgxfer_driver_lookup_url (const char *url, GError **error)
{
  g_autoptr (ImgxferUrl) parsed = NULL;
  GType type;

  g_return_val_if_fail (url != NULL, G_TYPE_INVALID);

  parsed = imgxfer_url_parse (url, error);
  if (parsed == NULL)
    return G_TYPE_INVALID;
  type = find_driver (MATCH_SCHEME, imgxfer_url_get_scheme (parsed));
  if (type == G_TYPE_INVALID)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_UNKNOWN_URL,
                 "%s: no driver for URL scheme \"%s\" (see `imgxfer drivers`)",
                 url, imgxfer_url_get_scheme (parsed));
  return type;
}

/**
 * imgxfer_driver_lookup_format:
 * @format: an image format such as "qcow2", compared without case
 *
 * Finds the first driver that lists @format in
 * #ImgxferBackendClass.formats, loading the driver's module if needed.
 * imgxfer_driver_list_format() gives all of them. Thread safe.
 *
 * Returns: the backend type of the format driver for @format, or
 *   %G_TYPE_INVALID when there is none
 *
 * Since: 0.1
 */
GType
imgxfer_driver_lookup_format (const char *format)
{
  g_return_val_if_fail (format != NULL, G_TYPE_INVALID);
  return find_driver (MATCH_FORMAT, format);
}

/**
 * imgxfer_driver_list_format:
 * @format: an image format such as "qcow2"
 * @n_drivers: (out) (optional): the number of drivers
 *
 * Several drivers may claim a format, each doing part of what can be done
 * with it (one writes new images itself, another reads any image through
 * qemu). The library asks them in this order, passing a request on to the
 * next when a driver answers %G_IO_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer full) (array length=n_drivers zero-terminated=1): the
 *   backend types of the drivers for @format, in resolution order
 *
 * Since: 0.1
 */
GType *
imgxfer_driver_list_format (const char *format, guint *n_drivers)
{
  GArray *types = g_array_new (TRUE, TRUE, sizeof (GType));

  g_return_val_if_fail (format != NULL, NULL);
  find_drivers (MATCH_FORMAT, format, types);
  if (n_drivers)
    *n_drivers = types->len;
  return (GType *)g_array_free (types, FALSE);
}

gpointer
_imgxfer_driver_ask_format (const char *format,
                            const char *url,
                            ImgxferFormatDriverFunc func,
                            gpointer user_data,
                            GError **error)
{
  g_autofree GType *types = imgxfer_driver_list_format (format, NULL);
  g_autoptr (GError) local_error = NULL;

  if (types[0] == G_TYPE_INVALID)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: no driver for image format \"%s\"", url, format);
      return NULL;
    }

  for (guint i = 0; types[i] != G_TYPE_INVALID; i++)
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (types[i]);
      g_autoptr (GError) driver_error = NULL;
      gpointer answer;

      answer = func ((ImgxferBackendClass *)klass, user_data, &driver_error);
      if (answer != NULL)
        return answer;
      if (driver_error == NULL)
        continue;
      g_clear_error (&local_error);
      local_error = g_steal_pointer (&driver_error);
      if (!g_error_matches (local_error, G_IO_ERROR,
                            G_IO_ERROR_NOT_SUPPORTED))
        break;
    }

  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

GType
_imgxfer_driver_lookup_members (void)
{
  return find_driver (MATCH_MEMBERS, NULL);
}

GPtrArray *
_imgxfer_driver_list_signatures (void)
{
  GPtrArray *all = g_ptr_array_new ();

  ensure_registry ();

  g_rec_mutex_lock (&registry_lock);
  for (guint i = 0; i < registry->len; i++)
    {
      Driver *driver = g_ptr_array_index (registry, i);
      g_autoptr (GTypeClass) klass = NULL;
      const char *const *signatures;

      /* Static types: their classes, and so the strings, stay. */
      if (driver->type != G_TYPE_INVALID)
        {
          klass = g_type_class_ref (driver->type);
          signatures = ((ImgxferBackendClass *)klass)->signatures;
        }
      else if (!driver->unusable)
        signatures = (const char *const *)driver->signatures;
      else
        continue;
      for (; signatures != NULL && *signatures != NULL; signatures++)
        g_ptr_array_add (all, (gpointer)*signatures);
    }
  g_rec_mutex_unlock (&registry_lock);

  return all;
}

/**
 * imgxfer_driver_lookup_name:
 * @name: a driver name such as "file"
 *
 * Finds a driver by its #ImgxferBackendClass.name, as `imgxfer drivers`
 * shows it. Thread safe.
 *
 * Returns: the backend type of that driver, or %G_TYPE_INVALID when there
 *   is none
 *
 * Since: 0.1
 */
GType
imgxfer_driver_lookup_name (const char *name)
{
  g_return_val_if_fail (name != NULL, G_TYPE_INVALID);
  return find_driver (MATCH_NAME, name);
}

/**
 * imgxfer_driver_list:
 * @n_drivers: (out) (optional): the number of drivers
 *
 * Lists every driver: those built into the library, then those of the
 * modules in `IMGXFER_DRIVER_PATH` and in the drivers folder. Every
 * module is loaded. Thread safe.
 *
 * Returns: (transfer full) (array length=n_drivers zero-terminated=1): the
 *   backend types of all registered drivers, in resolution order
 *
 * Since: 0.1
 */
GType *
imgxfer_driver_list (guint *n_drivers)
{
  GType *types;
  guint n = 0;

  ensure_registry ();

  g_rec_mutex_lock (&registry_lock);
  /* Listing needs every class: all described modules are loaded. */
  for (guint i = 0; i < registry->len; i++)
    load_described (g_ptr_array_index (registry, i));
  types = g_new0 (GType, registry->len + 1);
  for (guint i = 0; i < registry->len; i++)
    {
      Driver *driver = g_ptr_array_index (registry, i);

      if (driver->type != G_TYPE_INVALID)
        types[n++] = driver->type;
    }
  if (n_drivers)
    *n_drivers = n;
  g_rec_mutex_unlock (&registry_lock);

  return types;
}

/**
 * imgxfer_driver_get_module_path:
 * @backend_type: a registered driver's backend type
 *
 * Tells where a driver came from, as `imgxfer drivers` shows it.
 *
 * Returns: (nullable) (type filename): the module file the driver came
 *   from, or %NULL for a driver built into the library or the program
 *
 * Since: 0.1
 */
const char *
imgxfer_driver_get_module_path (GType backend_type)
{
  const char *path = NULL;

  ensure_registry ();

  g_rec_mutex_lock (&registry_lock);
  for (guint i = 0; i < registry->len; i++)
    {
      Driver *driver = g_ptr_array_index (registry, i);

      if (driver->type == backend_type)
        path = driver->module_path;
    }
  g_rec_mutex_unlock (&registry_lock);

  return path;
}
