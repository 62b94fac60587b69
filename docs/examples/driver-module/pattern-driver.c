/* pattern-driver.c: an example imgxfer driver module
 *
 * Opens URLs of the form "pattern:SIZE" (SIZE in bytes, or with a k, m or
 * g suffix for powers of 1024) as a read-only image of SIZE bytes whose
 * byte at offset i is i % 251. A prime period makes misplaced blocks show
 * up in a comparison, and it is the pattern of imgxfer's checksum test
 * vectors.
 *
 * Built outside libimgxfer, against its public header and shared library
 * only, as any third-party driver would be:
 *
 *   cc -shared -fPIC -o imgxfer-pattern.so pattern-driver.c \
 *      $(pkg-config --cflags --libs imgxfer-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <imgxfer/imgxfer.h>

#define PATTERN_PERIOD 251

/* 1. The type: a final subclass of ImgxferBackend. */
#define PATTERN_TYPE_BACKEND (pattern_backend_get_type ())
G_DECLARE_FINAL_TYPE (PatternBackend, pattern_backend, PATTERN, BACKEND,
                      ImgxferBackend)

struct _PatternBackend
{
  ImgxferBackend parent_instance;
};

static void pattern_backend_source_init (ImgxferSourceInterface *iface);

/* 2. The roles it plays: a source only, so it implements ImgxferSource
 *    and not ImgxferDestination. */
G_DEFINE_FINAL_TYPE_WITH_CODE (PatternBackend, pattern_backend,
                               IMGXFER_TYPE_BACKEND,
                               G_IMPLEMENT_INTERFACE (
                                   IMGXFER_TYPE_SOURCE,
                                   pattern_backend_source_init))

static gboolean
parse_size (const char *text, guint64 *size)
{
  static const char units[] = "kmg";
  const char *unit;
  char *end;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  *size = g_ascii_strtoull (text, &end, 10);
  if (*end == '\0')
    return TRUE;

  unit = strchr (units, g_ascii_tolower (*end));
  if (unit == NULL || end[1] != '\0')
    return FALSE;
  for (const char *u = units; u <= unit; u++)
    {
      if (*size > G_MAXUINT64 / 1024)
        return FALSE;
      *size *= 1024;
    }
  return TRUE;
}

/* 3. open: parse the URL, then declare what the image is and can do.
 *    Errors name the URL. */
static gboolean
pattern_backend_open (ImgxferBackend *backend,
                      GCancellable *cancellable,
                      GError **error)
{
  const char *url = imgxfer_backend_get_url (backend);
  ImgxferOpenOptions *options = imgxfer_backend_get_options (backend);
  guint64 size;

  if (imgxfer_open_options_get_writable (options))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: pattern images are read only", url);
      return FALSE;
    }

  if (!g_str_has_prefix (url, "pattern:")
      || !parse_size (url + strlen ("pattern:"), &size))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: expected pattern:SIZE, e.g. pattern:1m", url);
      return FALSE;
    }

  imgxfer_backend_set_size (backend, size);
  /* No capability: not writable, and no extents (the library reports the
   * whole image as data). */
  imgxfer_backend_set_caps (backend, 0);
  imgxfer_backend_set_block_sizes (backend, 1, 4096, 0);
  /* Clones are independent, so any number of workers may read. */
  imgxfer_backend_set_max_connections (backend, 16);
  return TRUE;
}

/* 4. pread: the library already checked that the range lies inside the
 *    image and fits one request, so only the domain logic is left. */
static gboolean
pattern_backend_pread (ImgxferSource *source,
                       void *buffer,
                       gsize length,
                       guint64 offset,
                       GCancellable *cancellable,
                       GError **error)
{
  guint8 *p = buffer;
  guint value = offset % PATTERN_PERIOD;

  for (gsize i = 0; i < length; i++)
    {
      p[i] = value;
      if (++value == PATTERN_PERIOD)
        value = 0;
    }
  return TRUE;
}

static void
pattern_backend_source_init (ImgxferSourceInterface *iface)
{
  iface->pread = pattern_backend_pread;
}

/* 5. The class says who the driver is and which URLs it opens, so the
 *    registry can choose it without making an instance. */
static const char *const pattern_schemes[] = { "pattern", NULL };

static void
pattern_backend_class_init (PatternBackendClass *klass)
{
  ImgxferBackendClass *backend_class = IMGXFER_BACKEND_CLASS (klass);

  backend_class->name = "pattern";
  backend_class->description = "Deterministic test data (example module)";
  backend_class->schemes = pattern_schemes;
  backend_class->open = pattern_backend_open;
}

static void
pattern_backend_init (PatternBackend *self)
{
}

/* 6. The module's entry point: the ABI version it was built for, and the
 *    function that registers its drivers. */
static void
register_drivers (void)
{
  imgxfer_driver_register (PATTERN_TYPE_BACKEND);
}

IMGXFER_DEFINE_DRIVER_MODULE (register_drivers)
