/* imgxfer-write-behind.h: hands a copy's writes to the disk as they come
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* With 1 MiB requests, 16 MiB per connection being written back. */
#define IMGXFER_WRITE_BEHIND_RANGES 16

/* Writes that follow one another are gathered until they make this
 * much; smaller ranges are left to the kernel's own writeback. */
#define IMGXFER_WRITE_BEHIND_MIN (1024 * 1024)

/* The ranges written through one descriptor whose writeback was started
 * and not waited for yet, oldest first (a ring), and the range being
 * gathered. Zero-initialized: on. */
typedef struct
{
  guint64 offset[IMGXFER_WRITE_BEHIND_RANGES];
  guint64 length[IMGXFER_WRITE_BEHIND_RANGES];
  guint first;
  guint count;
  guint64 gathered_offset;
  guint64 gathered_length;
  gboolean off; /* the file cannot do it (a pipe), or was told not to */
} ImgxferWriteBehind;

/* Starts writing back the range just written at @offset of @fd, and once
 * IMGXFER_WRITE_BEHIND_RANGES are under way waits for the oldest and drops
 * it from the page cache. Fails only with the error of a write that did
 * not reach the disk, which is then reported nowhere else. */
gboolean _imgxfer_write_behind_add (ImgxferWriteBehind *self,
                                    int fd,
                                    const char *path,
                                    guint64 offset,
                                    guint64 length,
                                    GError **error);

G_END_DECLS
