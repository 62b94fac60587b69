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

#include "imgxfer-blkhash-private.h"
#include "imgxfer-copy-private.h"

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
  *is_zero = _imgxfer_blkhash_is_zero (buffer, run);

  while (run < length)
    {
      gsize n = block_at (offset + run, length - run, block);

      if (_imgxfer_blkhash_is_zero (buffer + run, n) != *is_zero)
        break;
      run += n;
    }
  return run;
}
