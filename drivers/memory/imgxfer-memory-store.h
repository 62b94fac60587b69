/* imgxfer-memory-store.h: the sparse bytes behind memory: images
 *
 * A store is shared by a backend and its clones, which may run on
 * different threads: every function takes the store's lock itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "imgxfer-memory-backend.h"

G_BEGIN_DECLS

typedef struct _ImgxferMemoryStore ImgxferMemoryStore;

/* Returns the store called @name (a new anonymous one when @name is empty),
 * creating it with @size bytes if needed; @size is G_MAXUINT64 when the URL
 * gave none. */
ImgxferMemoryStore *_imgxfer_memory_store_open (const char *url,
                                                const char *name,
                                                guint64 size,
                                                GError **error);
ImgxferMemoryStore *_imgxfer_memory_store_ref (ImgxferMemoryStore *store);
void _imgxfer_memory_store_unref (ImgxferMemoryStore *store);

guint64 _imgxfer_memory_store_get_size (ImgxferMemoryStore *store);
void _imgxfer_memory_store_connection_opened (ImgxferMemoryStore *store);
/* Fails when a fault was injected for IMGXFER_MEMORY_OP_CLOSE. */
gboolean _imgxfer_memory_store_connection_closed (ImgxferMemoryStore *store,
                                                  GError **error);

gboolean _imgxfer_memory_store_read (ImgxferMemoryStore *store,
                                     void *buffer,
                                     gsize length,
                                     guint64 offset,
                                     GError **error);
gboolean _imgxfer_memory_store_write (ImgxferMemoryStore *store,
                                      const void *buffer,
                                      gsize length,
                                      guint64 offset,
                                      GError **error);
gboolean _imgxfer_memory_store_zero (ImgxferMemoryStore *store,
                                     guint64 offset,
                                     guint64 length,
                                     gboolean may_trim,
                                     GError **error);
gboolean _imgxfer_memory_store_flush (ImgxferMemoryStore *store,
                                      GError **error);
gboolean _imgxfer_memory_store_extents (ImgxferMemoryStore *store,
                                        ImgxferExtentContext context,
                                        guint64 offset,
                                        guint64 length,
                                        GArray *extents,
                                        GError **error);

void _imgxfer_memory_store_fail_nth (ImgxferMemoryStore *store,
                                     ImgxferMemoryOp op,
                                     guint n);
void _imgxfer_memory_store_short_read_nth (ImgxferMemoryStore *store, guint n);
void _imgxfer_memory_store_mark (ImgxferMemoryStore *store,
                                 guint64 offset,
                                 guint64 length,
                                 ImgxferExtentFlags flags);

typedef enum
{
  IMGXFER_MEMORY_STAT_COUNT,
  IMGXFER_MEMORY_STAT_BYTES,
  IMGXFER_MEMORY_STAT_LARGEST,
} ImgxferMemoryStat;

guint64 _imgxfer_memory_store_get_stat (ImgxferMemoryStore *store,
                                        ImgxferMemoryOp op,
                                        ImgxferMemoryStat stat);
guint64 _imgxfer_memory_store_get_trim_count (ImgxferMemoryStore *store);
guint _imgxfer_memory_store_get_connections (ImgxferMemoryStore *store,
                                             gboolean peak);
void _imgxfer_memory_store_reset_counters (ImgxferMemoryStore *store);
guint _imgxfer_memory_store_get_stored_chunks (ImgxferMemoryStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferMemoryStore, _imgxfer_memory_store_unref)

G_END_DECLS
