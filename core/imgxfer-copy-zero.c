/* imgxfer-copy-zero.c: finding runs of zero blocks in data
 *
 * A data extent often holds whole blocks of zeroes (a file written by a
 * guest, a raw image without holes). Turning them into zero requests keeps
 * the destination sparse and sends less. Blocks are aligned to the image,
 * not to the buffer, and the last block of the image may be short: its
 * bytes are checked exactly like the others, so data in an unaligned tail
 * is never taken for zeroes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "imgxfer-copy-private.h"

gboolean
_imgxfer_copy_is_zero (const guint8 *buffer, gsize length)
{
  static const guint8 zeroes[16] = { 0 };
  gsize head = MIN (length, sizeof zeroes);

  /* Once the head is known to be zero, comparing the buffer with itself
   * shifted by the head's length checks the rest at memcmp speed. */
  if (memcmp (buffer, zeroes, head) != 0)
    return FALSE;
  return memcmp (buffer, buffer + head, length - head) == 0;
}

/* Length of the block at @offset, clipped to @length. */
static gsize
block_at (guint64 offset, gsize length, gsize block)
{
  return MIN (block - offset % block, length);
}

gsize
_imgxfer_copy_zero_run (const guint8 *buffer,
                        gsize length,
                        guint64 offset,
                        gsize block,
                        gboolean *is_zero)
{
  gsize run;

  g_return_val_if_fail (length > 0, 0);

  run = block_at (offset, length, block);
  *is_zero = _imgxfer_copy_is_zero (buffer, run);

  while (run < length)
    {
      gsize n = block_at (offset + run, length - run, block);

      if (_imgxfer_copy_is_zero (buffer + run, n) != *is_zero)
        break;
      run += n;
    }
  return run;
}
