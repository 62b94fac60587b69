/* pattern-driver.c: an example imgxfer driver module
 *
 * Opens "pattern:SIZE" (bytes, or with a k, m or g suffix) as a read-only
 * image whose byte at offset i is i % 251: a prime period shows misplaced
 * blocks in a comparison. Built against the installed library only:
 *
 *   cc -shared -fPIC -o imgxfer-pattern.so pattern-driver.c \
 *      $(pkg-config --cflags --libs imgxfer-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <imgxfer/imgxfer.h>

#define PATTERN_PERIOD 251

/* 1. open: parse the URL, then declare what the image is and can do.
 *    Errors name the URL. */
static gboolean
pattern_open (ImgxferBackend *backend, GCancellable *cancellable,
              GError **error)
{
  const char *url = imgxfer_backend_get_url (backend);
  guint64 size;

  if (!g_str_has_prefix (url, "pattern:")
      || !imgxfer_size_parse (url + strlen ("pattern:"), &size, NULL))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: expected pattern:SIZE, e.g. pattern:1m", url);
      return FALSE;
    }

  imgxfer_backend_set_size (backend, size);
  /* No capability: read only, no extents (the library reports data). */
  imgxfer_backend_set_caps (backend, 0);
  /* Clones are independent, so any number of workers may read. */
  imgxfer_backend_set_max_connections (backend, 16);
  return TRUE;
}

/* 2. pread: the library has checked the range, so only the domain logic
 *    is left. */
static gboolean
pattern_pread (ImgxferSource *source, void *buffer, gsize length,
               guint64 offset, GCancellable *cancellable, GError **error)
{
  guint8 *p = buffer;

  for (gsize i = 0; i < length; i++)
    p[i] = (offset + i) % PATTERN_PERIOD;
  return TRUE;
}

/* 3. The driver as data: the registry reads the schemes from the class,
 *    and a pread makes it a source (a pwrite would make it writable). */
static const char *const pattern_schemes[] = { "pattern", NULL };

static const ImgxferDriverSpec pattern_driver = {
  .name = "pattern",
  .description = "Deterministic test data (example module)",
  .schemes = pattern_schemes,
  .open = pattern_open,
  .pread = pattern_pread,
};

/* 4. The type (its instances keep no state of their own), and the
 *    module's entry point: the ABI it was built for, and its drivers. */
IMGXFER_DEFINE_SIMPLE_DRIVER (PatternBackend, pattern_backend, &pattern_driver)
IMGXFER_DEFINE_DRIVER_MODULE_TYPES (pattern_backend_get_type)
