/* imgxfer-memory-backend.c: sparse images in memory, for tests
 *
 * The glue between the backend API and a shared ImgxferMemoryStore: URL
 * parsing, capabilities, and clones that share the store. See
 * imgxfer-memory-backend.h for the URL syntax.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "imgxfer-memory-backend.h"
#include "imgxfer-memory-store.h"

#define DEFAULT_MAX_CONNECTIONS 16

struct _ImgxferMemoryBackend
{
  ImgxferBackend parent_instance;

  ImgxferMemoryStore *store;
};

/* What the URL asked for. */
typedef struct
{
  char *name;
  guint64 size; /* G_MAXUINT64 when not given */
  guint max_connections;
  guint64 preferred_block;
  guint64 max_block;
  ImgxferBackendCaps caps_off;
  ImgxferBackendCaps caps_on;
  guint fail_close; /* 0: none */
} MemoryUrl;

static void
memory_url_clear (MemoryUrl *mu)
{
  g_free (mu->name);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MemoryUrl, memory_url_clear)

static gboolean
bad_parameter (GError **error,
               const char *url,
               const char *key,
               const char *value)
{
  g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
               "%s: invalid parameter %s=%s", url, key, value);
  return FALSE;
}

static gboolean
parse_switch (const char *text, gboolean *on)
{
  if (g_strv_contains ((const char *const[]){ "yes", "on", "true", "1", NULL },
                       text))
    *on = TRUE;
  else if (g_strv_contains (
               (const char *const[]){ "no", "off", "false", "0", NULL }, text))
    *on = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_switch_param (MemoryUrl *mu,
                    const char *value,
                    ImgxferBackendCaps cap,
                    gboolean on_adds)
{
  gboolean on;

  if (!parse_switch (value, &on))
    return FALSE;
  if (on && on_adds)
    mu->caps_on |= cap;
  else if (!on && !on_adds)
    mu->caps_off |= cap;
  return TRUE;
}

static gboolean
parse_param (MemoryUrl *mu, const char *key, const char *value)
{
  guint64 number;

  if (g_str_equal (key, "size"))
    return imgxfer_size_parse (value, &mu->size, NULL);
  if (g_str_equal (key, "preferred-block"))
    return imgxfer_size_parse (value, &mu->preferred_block, NULL)
           && mu->preferred_block <= G_MAXUINT32;
  if (g_str_equal (key, "max-block"))
    return imgxfer_size_parse (value, &mu->max_block, NULL) && mu->max_block > 0
           && mu->max_block <= G_MAXUINT32;
  if (g_str_equal (key, "max-connections"))
    {
      if (!imgxfer_size_parse (value, &number, NULL) || number == 0
          || number > 1024)
        return FALSE;
      mu->max_connections = number;
      return TRUE;
    }
  if (g_str_equal (key, "fail-close"))
    {
      if (!imgxfer_size_parse (value, &number, NULL) || number == 0
          || number > G_MAXUINT)
        return FALSE;
      mu->fail_close = number;
      return TRUE;
    }
  if (g_str_equal (key, "extents"))
    return parse_switch_param (mu, value,
                               IMGXFER_BACKEND_CAN_EXTENTS
                                   | IMGXFER_BACKEND_CAN_DIRTY,
                               FALSE);
  if (g_str_equal (key, "zero"))
    return parse_switch_param (mu, value, IMGXFER_BACKEND_CAN_ZERO, FALSE);
  if (g_str_equal (key, "flush"))
    return parse_switch_param (mu, value, IMGXFER_BACKEND_CAN_FLUSH, FALSE);
  if (g_str_equal (key, "is-zero"))
    return parse_switch_param (mu, value, IMGXFER_BACKEND_IS_ZERO, TRUE);
  if (g_str_equal (key, "may-reconnect"))
    return parse_switch_param (mu, value, IMGXFER_BACKEND_MAY_RECONNECT, TRUE);
  return FALSE;
}

static const char *const memory_params[] = {
  "size", "preferred-block", "max-block", "max-connections", "extents",
  "zero", "flush",           "is-zero",   "fail-close",      "may-reconnect",
  NULL
};

static gboolean
parse_url (const char *url, MemoryUrl *mu, GError **error)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, error);

  mu->size = G_MAXUINT64;
  mu->max_connections = DEFAULT_MAX_CONNECTIONS;
  mu->preferred_block = 4096;

  if (parsed == NULL)
    return FALSE;
  if (!g_str_equal (imgxfer_url_get_scheme (parsed), "memory")
      || imgxfer_url_get_host (parsed) != NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: not a memory URL (memory:[NAME][?size=SIZE])", url);
      return FALSE;
    }
  if (!imgxfer_url_check_params (parsed, memory_params, error))
    return FALSE;
  mu->name = g_strdup (imgxfer_url_get_path (parsed));

  for (const char *const *key = memory_params; *key; key++)
    {
      const char *value = imgxfer_url_get_param (parsed, *key);

      if (value != NULL && !parse_param (mu, *key, value))
        return bad_parameter (error, url, *key, value);
    }
  return TRUE;
}

static void
declare (ImgxferBackend *backend,
         guint64 size,
         ImgxferBackendCaps caps,
         guint32 preferred_block,
         guint32 max_block,
         guint max_connections)
{
  imgxfer_backend_set_size (backend, size);
  imgxfer_backend_set_caps (backend, caps);
  imgxfer_backend_set_block_sizes (backend, 1, preferred_block, max_block);
  imgxfer_backend_set_max_connections (backend, max_connections);
}

static gboolean
imgxfer_memory_backend_open (ImgxferBackend *backend,
                             GCancellable *cancellable,
                             GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (backend);
  const char *url = imgxfer_backend_get_url (backend);
  g_auto (MemoryUrl) mu = { 0 };
  ImgxferBackendCaps caps = IMGXFER_BACKEND_CAN_ZERO | IMGXFER_BACKEND_CAN_FLUSH
                            | IMGXFER_BACKEND_CAN_EXTENTS
                            | IMGXFER_BACKEND_CAN_DIRTY;

  if (!parse_url (url, &mu, error))
    return FALSE;

  self->store = _imgxfer_memory_store_open (url, mu.name, mu.size, error);
  if (self->store == NULL)
    return FALSE;
  _imgxfer_memory_store_connection_opened (self->store);
  if (mu.fail_close > 0)
    _imgxfer_memory_store_fail_nth (self->store, IMGXFER_MEMORY_OP_CLOSE,
                                    mu.fail_close);

  if (imgxfer_open_options_get_writable (imgxfer_backend_get_options (backend)))
    caps |= IMGXFER_BACKEND_CAN_WRITE;
  caps = (caps & ~mu.caps_off) | mu.caps_on;

  declare (backend, _imgxfer_memory_store_get_size (self->store), caps,
           mu.preferred_block, mu.max_block, mu.max_connections);
  return TRUE;
}

/* A clone shares the store, which reopening the URL would not do for an
 * anonymous image. */
static ImgxferBackend *
imgxfer_memory_backend_clone (ImgxferBackend *backend,
                              GCancellable *cancellable,
                              GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (backend);
  ImgxferMemoryBackend *clone;
  guint32 preferred_block, max_block;

  clone = g_object_new (IMGXFER_TYPE_MEMORY_BACKEND,
                        "url", imgxfer_backend_get_url (backend),
                        "options", imgxfer_backend_get_options (backend),
                        NULL);
  clone->store = _imgxfer_memory_store_ref (self->store);
  _imgxfer_memory_store_connection_opened (clone->store);

  imgxfer_backend_get_block_sizes (backend, NULL, &preferred_block,
                                   &max_block);
  declare (IMGXFER_BACKEND (clone), imgxfer_backend_get_size (backend),
           imgxfer_backend_get_caps (backend), preferred_block, max_block,
           imgxfer_backend_get_max_connections (backend));
  return IMGXFER_BACKEND (clone);
}

static gboolean
imgxfer_memory_backend_pread (ImgxferSource *source,
                              void *buffer,
                              gsize length,
                              guint64 offset,
                              GCancellable *cancellable,
                              GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (source);

  return _imgxfer_memory_store_read (self->store, buffer, length, offset,
                                     error);
}

static gboolean
imgxfer_memory_backend_extents (ImgxferSource *source,
                                ImgxferExtentContext context,
                                guint64 offset,
                                guint64 length,
                                GArray *extents,
                                GCancellable *cancellable,
                                GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (source);

  return _imgxfer_memory_store_extents (self->store, context, offset, length,
                                        extents, error);
}

static gboolean
imgxfer_memory_backend_pwrite (ImgxferDestination *destination,
                               const void *buffer,
                               gsize length,
                               guint64 offset,
                               GCancellable *cancellable,
                               GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (destination);

  return _imgxfer_memory_store_write (self->store, buffer, length, offset,
                                      error);
}

static gboolean
imgxfer_memory_backend_zero (ImgxferDestination *destination,
                             guint64 offset,
                             guint64 length,
                             ImgxferZeroFlags flags,
                             GCancellable *cancellable,
                             GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (destination);

  return _imgxfer_memory_store_zero (self->store, offset, length,
                                     (flags & IMGXFER_ZERO_MAY_TRIM) != 0,
                                     error);
}

static gboolean
imgxfer_memory_backend_flush (ImgxferDestination *destination,
                              GCancellable *cancellable,
                              GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (destination);

  return _imgxfer_memory_store_flush (self->store, error);
}

static gboolean
imgxfer_memory_backend_close (ImgxferBackend *backend,
                              GCancellable *cancellable, GError **error)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (backend);

  return self->store == NULL
         || _imgxfer_memory_store_connection_closed (self->store, error);
}

static void
imgxfer_memory_backend_release (ImgxferBackend *backend)
{
  ImgxferMemoryBackend *self = IMGXFER_MEMORY_BACKEND (backend);

  g_clear_pointer (&self->store, _imgxfer_memory_store_unref);
}

static const char *const memory_schemes[] = { "memory", NULL };

static const ImgxferDriverSpec memory_driver = {
  .name = "memory",
  .description = "Sparse images in memory, for tests",
  .schemes = memory_schemes,
  .finalize = imgxfer_memory_backend_release,
  .open = imgxfer_memory_backend_open,
  .clone = imgxfer_memory_backend_clone,
  .close = imgxfer_memory_backend_close,
  .pread = imgxfer_memory_backend_pread,
  .extents = imgxfer_memory_backend_extents,
  .pwrite = imgxfer_memory_backend_pwrite,
  .zero = imgxfer_memory_backend_zero,
  .flush = imgxfer_memory_backend_flush,
};

IMGXFER_DEFINE_DRIVER (ImgxferMemoryBackend, imgxfer_memory_backend, &memory_driver)

/* Test helpers: thin forwards to the store. */

void
imgxfer_memory_backend_fail_nth (ImgxferMemoryBackend *self,
                                 ImgxferMemoryOp op,
                                 guint n)
{
  g_return_if_fail (IMGXFER_IS_MEMORY_BACKEND (self));
  g_return_if_fail (op < IMGXFER_MEMORY_N_OPS);
  _imgxfer_memory_store_fail_nth (self->store, op, n);
}

void
imgxfer_memory_backend_short_read_nth (ImgxferMemoryBackend *self, guint n)
{
  g_return_if_fail (IMGXFER_IS_MEMORY_BACKEND (self));
  _imgxfer_memory_store_short_read_nth (self->store, n);
}

void
imgxfer_memory_backend_mark (ImgxferMemoryBackend *self,
                             guint64 offset,
                             guint64 length,
                             ImgxferExtentFlags flags)
{
  g_return_if_fail (IMGXFER_IS_MEMORY_BACKEND (self));
  _imgxfer_memory_store_mark (self->store, offset, length, flags);
}

guint64
imgxfer_memory_backend_get_count (ImgxferMemoryBackend *self,
                                  ImgxferMemoryOp op)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_stat (self->store, op,
                                         IMGXFER_MEMORY_STAT_COUNT);
}

guint64
imgxfer_memory_backend_get_bytes (ImgxferMemoryBackend *self,
                                  ImgxferMemoryOp op)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_stat (self->store, op,
                                         IMGXFER_MEMORY_STAT_BYTES);
}

guint64
imgxfer_memory_backend_get_largest (ImgxferMemoryBackend *self,
                                    ImgxferMemoryOp op)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_stat (self->store, op,
                                         IMGXFER_MEMORY_STAT_LARGEST);
}

guint64
imgxfer_memory_backend_get_trim_count (ImgxferMemoryBackend *self)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_trim_count (self->store);
}

guint
imgxfer_memory_backend_get_connections (ImgxferMemoryBackend *self)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_connections (self->store, FALSE);
}

guint
imgxfer_memory_backend_get_peak_connections (ImgxferMemoryBackend *self)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_connections (self->store, TRUE);
}

void
imgxfer_memory_backend_reset_counters (ImgxferMemoryBackend *self)
{
  g_return_if_fail (IMGXFER_IS_MEMORY_BACKEND (self));
  _imgxfer_memory_store_reset_counters (self->store);
}

guint
imgxfer_memory_backend_get_stored_chunks (ImgxferMemoryBackend *self)
{
  g_return_val_if_fail (IMGXFER_IS_MEMORY_BACKEND (self), 0);
  return _imgxfer_memory_store_get_stored_chunks (self->store);
}
