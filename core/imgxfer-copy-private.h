/* imgxfer-copy-private.h: the copy engine's internal interfaces
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-copy.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-extent.h>

G_BEGIN_DECLS

/**
 * ImgxferCopyObserverFunc:
 * @offset: where the range starts in the source
 * @length: its length
 * @data: (nullable): the bytes read from the source, or %NULL when the
 *   range was not read
 * @flags: the source's extent flags for the range: %IMGXFER_EXTENT_DATA
 *   when @data is set; otherwise %IMGXFER_EXTENT_ZERO (reads as zeroes),
 *   %IMGXFER_EXTENT_HOLE (reads as zeroes in this layer; left untouched by
 *   a shallow copy), or, in a dirty-only copy, a range without
 *   %IMGXFER_EXTENT_DIRTY, which was not read and whose bytes are unknown
 * @user_data: user data
 *
 * Sees every byte range of the source exactly once during a copy, from
 * the worker threads, in no particular order, before the range is written.
 * Meant for computing a checksum of the copied data in the same pass
 * (imgxfer_checksum_update() for data, imgxfer_checksum_update_zero() for
 * zero and hole ranges). Must be thread safe and quick.
 */
typedef void (*ImgxferCopyObserverFunc) (guint64 offset,
                                         guint64 length,
                                         const void *data,
                                         ImgxferExtentFlags flags,
                                         gpointer user_data);

/* Attaches the observer for the next runs; %NULL removes it. */
void _imgxfer_copy_set_observer (ImgxferCopy *self,
                                 ImgxferCopyObserverFunc func,
                                 gpointer user_data);

/* Work is claimed by the workers in units of this size (default 128 MiB);
 * tests make it small to spread a small image over several workers. */
void _imgxfer_copy_set_unit_size (ImgxferCopy *self, guint64 unit_size);

/* Everything one run needs, fixed for its duration. Without a
 * destination the workers only read, for the observer. */
typedef struct
{
  ImgxferBackend *source;
  ImgxferBackend *destination; /* nullable */
  guint connections;
  gsize request_size;
  guint64 unit_size;
  gboolean target_is_zero;
  gboolean shallow;
  gboolean dirty_only;
  gboolean sparse;

  ImgxferCopyProgressFunc progress_func;
  gpointer progress_data;
  ImgxferCopyObserverFunc observer_func;
  gpointer observer_data;

  /* Bytes completed, added to atomically by the workers. */
  guint64 *done;

  /* When set, where the run ends instead of the source's end: nothing
   * at or past it is read or written. It may be lowered while the run
   * goes on (atomically, from the destination's calls: a comparison
   * stops at the first difference), and every byte below its final
   * value has been done. */
  guint64 *limit;
} ImgxferCopyJob;

/* Runs the copy described by @job in this thread and in worker threads,
 * returning when they are all finished. Defined in imgxfer-copy-job.c. */
gboolean _imgxfer_copy_job_run (const ImgxferCopyJob *job,
                                GCancellable *cancellable,
                                GError **error);

/* Zero detection, in imgxfer-copy-zero.c. */

/* Smallest granularity of zero detection in data buffers; a destination
 * that prefers larger blocks gets its preferred size. */
#define IMGXFER_COPY_ZERO_BLOCK 4096

/* Measures the run at the start of @buffer (@length bytes, holding the
 * image's bytes from @offset) made of blocks that are all zero or all
 * not zero; blocks are @block bytes (a power of two) aligned to image
 * offsets, clipped to the buffer. Sets *@is_zero and returns the length. */
gsize _imgxfer_copy_zero_run (const guint8 *buffer,
                              gsize length,
                              guint64 offset,
                              gsize block,
                              gboolean *is_zero);

/* Writes sent again after a replaced connection, in imgxfer-copy-replay.c. */

/* Buffers of the copy are aligned for direct I/O. */
#define IMGXFER_COPY_BUFFER_ALIGNMENT 4096

/* What one worker wrote to its destination clone since the clone's last
 * flush, as ranges, and how to write them again from its source clone. */
typedef struct
{
  ImgxferBackend *source;
  ImgxferBackend *destination;
  gsize request_size;
  ImgxferZeroFlags zero_flags;

  GArray *ranges; /* oldest first, adjacent ones merged */
  guint64 data_bytes;
  guint8 *buffer; /* made by the first replay of data */
} ImgxferCopyReplay;

void _imgxfer_copy_replay_init (ImgxferCopyReplay *self, ImgxferBackend *source,
                                ImgxferBackend *destination, gsize request_size,
                                ImgxferZeroFlags zero_flags);
void _imgxfer_copy_replay_clear (ImgxferCopyReplay *self);

/* Notes a range written (data, or zeroed when @zero). TRUE when the list
 * is as long as a replay may cost: time to flush and forget it. */
gboolean _imgxfer_copy_replay_add (ImgxferCopyReplay *self, guint64 offset,
                                   guint64 length, gboolean zero);

/* After a successful flush. */
void _imgxfer_copy_replay_forget (ImgxferCopyReplay *self);

/* Bytes listed, data and zeroes, for the log. */
guint64 _imgxfer_copy_replay_get_bytes (ImgxferCopyReplay *self);

/* Writes every range listed again: data read again from the source. */
gboolean _imgxfer_copy_replay_run (ImgxferCopyReplay *self,
                                   GCancellable *cancellable, GError **error);

G_END_DECLS
