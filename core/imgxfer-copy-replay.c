/* imgxfer-copy-replay.c: what a copy worker wrote since its last flush,
 * written again after its destination's connection was replaced
 *
 * A write acknowledged by a server is durable only once a flush covers
 * it, and a flush covers the writes of its own connection. When a driver
 * replaces a connection that held such writes (a request failed and was
 * sent again on a new one, or the HTTP library reconnected by itself),
 * the server may have lost them: it may have restarted, and a restarted
 * server flushes what it has, not what its predecessor lost. The driver
 * cannot tell, nor keep every write's data in case; it reports
 * IMGXFER_ERROR_RECONNECTED instead. The worker knows what it wrote since
 * its last flush, as ranges only (the data is the source's, read again),
 * and writes them again from its source clone before sending the request
 * again. Sending a range again is harmless: each range of the image is
 * written once, by one worker, so nothing newer can lie under it.
 *
 * Adjacent ranges of the same kind merge, and a worker's writes mostly
 * follow each other, so the list stays short. What a replay may cost is
 * bounded: once REPLAY_MAX_BYTES of data or REPLAY_MAX_RANGES ranges are
 * listed, the worker flushes its destination and forgets them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-backend.h>
#include <imgxfer/imgxfer-destination.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-source.h>

#include "imgxfer-copy-private.h"

/* 1 GiB of data: sent again in one or two seconds at the rates of a
 * server on a fast network, which is what waiting for a restarted server
 * costs anyway, while an image of any size is never sent again whole.
 * The flushes it adds cost the server little: a flush makes durable what
 * it was sent, which it has to write anyway before the copy's end, plus
 * a fixed cost (a journal commit) once per GiB. */
#define REPLAY_MAX_BYTES (G_GUINT64_CONSTANT (1) << 30)
/* Each range costs a request when sent again, and 24 bytes meanwhile. */
#define REPLAY_MAX_RANGES 16384

typedef struct
{
  guint64 offset;
  guint64 length;
  gboolean zero;
} Written;

void
_imgxfer_copy_replay_init (ImgxferCopyReplay *self, ImgxferBackend *source,
                           ImgxferBackend *destination, gsize request_size,
                           ImgxferZeroFlags zero_flags)
{
  self->source = source;
  self->destination = destination;
  self->request_size = request_size;
  self->zero_flags = zero_flags;
  self->ranges = g_array_new (FALSE, FALSE, sizeof (Written));
  self->data_bytes = 0;
  self->buffer = NULL;
}

void
_imgxfer_copy_replay_clear (ImgxferCopyReplay *self)
{
  g_clear_pointer (&self->ranges, g_array_unref);
  g_clear_pointer (&self->buffer, g_aligned_free);
}

gboolean
_imgxfer_copy_replay_add (ImgxferCopyReplay *self, guint64 offset,
                          guint64 length, gboolean zero)
{
  Written *last = self->ranges->len ? &g_array_index (self->ranges, Written,
                                                      self->ranges->len - 1)
                                    : NULL;

  if (!zero)
    self->data_bytes += length;
  if (last && last->zero == zero && last->offset + last->length == offset)
    last->length += length;
  else
    {
      Written written = { offset, length, zero };

      g_array_append_val (self->ranges, written);
    }
  return self->data_bytes >= REPLAY_MAX_BYTES
         || self->ranges->len >= REPLAY_MAX_RANGES;
}

void
_imgxfer_copy_replay_forget (ImgxferCopyReplay *self)
{
  g_array_set_size (self->ranges, 0);
  self->data_bytes = 0;
}

guint64
_imgxfer_copy_replay_get_bytes (ImgxferCopyReplay *self)
{
  guint64 bytes = 0;

  for (guint i = 0; i < self->ranges->len; i++)
    bytes += g_array_index (self->ranges, Written, i).length;
  return bytes;
}

/* A data range, read again from the source in requests of the copy's
 * size. The buffer is the replay's own, made when first needed: the
 * worker's still holds the request to send again afterwards. */
static gboolean
write_again (ImgxferCopyReplay *self, const Written *written,
             GCancellable *cancellable, GError **error)
{
  guint64 offset = written->offset;
  guint64 end = written->offset + written->length;

  if (self->buffer == NULL)
    self->buffer = g_aligned_alloc (1, self->request_size,
                                    IMGXFER_COPY_BUFFER_ALIGNMENT);
  while (offset < end)
    {
      gsize n = MIN (end - offset, self->request_size);

      if (!imgxfer_source_pread (IMGXFER_SOURCE (self->source), self->buffer, n,
                                 offset, cancellable, error)
          || !imgxfer_destination_pwrite (
              IMGXFER_DESTINATION (self->destination), self->buffer, n, offset,
              cancellable, error))
        return FALSE;
      offset += n;
    }
  return TRUE;
}

gboolean
_imgxfer_copy_replay_run (ImgxferCopyReplay *self, GCancellable *cancellable,
                          GError **error)
{
  for (guint i = 0; i < self->ranges->len; i++)
    {
      const Written *written = &g_array_index (self->ranges, Written, i);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (written->zero ? !imgxfer_destination_zero (
              IMGXFER_DESTINATION (self->destination), written->offset,
              written->length, self->zero_flags, cancellable, error)
                        : !write_again (self, written, cancellable, error))
        return FALSE;
    }
  return TRUE;
}
