/* imgxfer-memory-backend.h: sparse images in memory, with fault injection
 *
 * URLs: `memory:?size=SIZE` opens a new anonymous image; `memory:NAME` or
 * `memory:NAME?size=SIZE` opens the process-wide image called NAME,
 * creating it with SIZE bytes when it does not exist yet. A named image
 * lives as long as some backend uses it, so a source and a destination
 * opened separately can share one. Sizes take k/m/g suffixes (powers of
 * 1024). More query parameters shape the backend, for tests:
 *
 *   max-connections=N     how many connections the image allows (default 16)
 *   preferred-block=SIZE  declared preferred request size (default 4k)
 *   max-block=SIZE        largest request (default and at most 32 MiB)
 *   extents=no            no extents: callers see all data
 *   zero=no               no efficient zero: callers write zeroes
 *   flush=no              flush does nothing (not counted)
 *   is-zero=yes           declare IMGXFER_BACKEND_IS_ZERO
 *   may-reconnect=yes     declare IMGXFER_BACKEND_MAY_RECONNECT (a copy
 *                         then lists its writes and flushes on the way)
 *   fail-close=N          the N-th close of a connection from now on fails,
 *                         as a write-back error found at close does (for
 *                         the command's tests, which run another process)
 *
 * Data is kept in 4 KiB chunks; chunks never written (or zeroed with
 * IMGXFER_ZERO_MAY_TRIM) are not stored and report as zero extents.
 * Clones share the image; the image is locked for each request, so clones
 * may run on different threads.
 *
 * The functions below are for tests: the driver is private to the library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

#define IMGXFER_TYPE_MEMORY_BACKEND (imgxfer_memory_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferMemoryBackend, imgxfer_memory_backend, IMGXFER,
                      MEMORY_BACKEND, ImgxferBackend)

/* Bytes per stored chunk: also the granularity of the extents. */
#define IMGXFER_MEMORY_CHUNK_SIZE 4096

/**
 * ImgxferMemoryOp:
 * @IMGXFER_MEMORY_OP_READ: pread requests
 * @IMGXFER_MEMORY_OP_WRITE: pwrite requests
 * @IMGXFER_MEMORY_OP_ZERO: zero requests (after the caller's splitting)
 * @IMGXFER_MEMORY_OP_FLUSH: flush requests
 * @IMGXFER_MEMORY_OP_EXTENTS: extents calls, in either context
 * @IMGXFER_MEMORY_OP_CLOSE: closes of a connection; a fault injected here
 *   is what a write-back error found at close looks like
 *
 * The requests the image counts, and in which faults can be injected.
 */
typedef enum
{
  IMGXFER_MEMORY_OP_READ,
  IMGXFER_MEMORY_OP_WRITE,
  IMGXFER_MEMORY_OP_ZERO,
  IMGXFER_MEMORY_OP_FLUSH,
  IMGXFER_MEMORY_OP_EXTENTS,
  IMGXFER_MEMORY_OP_CLOSE,
  IMGXFER_MEMORY_N_OPS,
} ImgxferMemoryOp;

/* Makes the @n-th request of @op from now on (1: the next one), on any
 * connection of the image, fail with G_IO_ERROR_FAILED (EIO). One shot. */
void imgxfer_memory_backend_fail_nth (ImgxferMemoryBackend *self,
                                      ImgxferMemoryOp op,
                                      guint n);
/* Makes the @n-th read from now on fail with IMGXFER_ERROR_SHORT_READ,
 * after filling half of the buffer. One shot. */
void imgxfer_memory_backend_short_read_nth (ImgxferMemoryBackend *self,
                                            guint n);

/* Marks @offset..+@length with IMGXFER_EXTENT_HOLE (reported in the zero
 * context) or IMGXFER_EXTENT_DIRTY (reported in the dirty context). Marks
 * describe the image, they do not change its data; the bytes read from a
 * hole are the stored ones (zeroes unless written). */
void imgxfer_memory_backend_mark (ImgxferMemoryBackend *self,
                                  guint64 offset,
                                  guint64 length,
                                  ImgxferExtentFlags flags);

/* Counters of the image, over all its connections. */
guint64 imgxfer_memory_backend_get_count (ImgxferMemoryBackend *self,
                                          ImgxferMemoryOp op);
guint64 imgxfer_memory_backend_get_bytes (ImgxferMemoryBackend *self,
                                          ImgxferMemoryOp op);
guint64 imgxfer_memory_backend_get_largest (ImgxferMemoryBackend *self,
                                            ImgxferMemoryOp op);
/* Zero requests that allowed deallocation (IMGXFER_ZERO_MAY_TRIM). */
guint64 imgxfer_memory_backend_get_trim_count (ImgxferMemoryBackend *self);
/* Connections opened on the image (the first and its clones), and the
 * most that were open at once. */
guint imgxfer_memory_backend_get_connections (ImgxferMemoryBackend *self);
guint imgxfer_memory_backend_get_peak_connections (ImgxferMemoryBackend *self);
/* Sets every counter to 0 (the connection counts stay). */
void imgxfer_memory_backend_reset_counters (ImgxferMemoryBackend *self);

/* Number of 4 KiB chunks stored. */
guint imgxfer_memory_backend_get_stored_chunks (ImgxferMemoryBackend *self);

G_END_DECLS
