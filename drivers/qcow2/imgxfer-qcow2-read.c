/* imgxfer-qcow2-read.c: reading back a new qcow2 image while it is
 * written
 *
 * Only what imgxfer-qcow2-image.c writes is read here: data clusters,
 * uncompressed, in a file without a backing file. Clusters never written
 * read as zeroes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <imgxfer/imgxfer-extent.h>

#include "drivers/common/imgxfer-local-io.h"
#include "imgxfer-qcow2-image.h"

typedef struct
{
  ImgxferQcow2Image *image;
  guint8 *buffer;
  guint64 offset; /* of the buffer, in the guest */
} ReadRequest;

/* A cluster allocated but written only in part may end past the end of
 * the file, where it reads as zeroes. */
static gboolean
read_run (guint64 guest_offset, guint64 file_offset, gsize length,
          gpointer user_data, GError **error)
{
  ReadRequest *request = user_data;
  ImgxferQcow2Image *image = request->image;
  guint8 *p = request->buffer + (guest_offset - request->offset);

  while (length > 0)
    {
      ssize_t n
          = pread (_imgxfer_qcow2_image_get_fd (image), p, length, file_offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return _imgxfer_set_errno_error (error, errno,
                                         _imgxfer_qcow2_image_get_path (image),
                                         "read", file_offset);
      if (n == 0)
        break; /* the buffer holds zeroes already */
      p += n;
      file_offset += n;
      length -= n;
    }
  return TRUE;
}

gboolean
_imgxfer_qcow2_image_read (ImgxferQcow2Image *self, void *buffer, gsize length,
                           guint64 offset, GError **error)
{
  ReadRequest request = { self, buffer, offset };

  memset (buffer, 0, length);
  return _imgxfer_qcow2_image_map (self, offset, length, FALSE, read_run,
                                   &request, error);
}

typedef struct
{
  GArray *extents;
  guint64 next; /* the end of the last extent */
} ExtentsRequest;

static gboolean
extent_run (guint64 guest_offset, guint64 file_offset, gsize length,
            gpointer user_data, GError **error)
{
  ExtentsRequest *request = user_data;

  if (guest_offset > request->next)
    imgxfer_extents_append (request->extents, request->next,
                            guest_offset - request->next,
                            IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  imgxfer_extents_append (request->extents, guest_offset, length, 0);
  request->next = guest_offset + length;
  return TRUE;
}

gboolean
_imgxfer_qcow2_image_extents (ImgxferQcow2Image *self, guint64 offset,
                              guint64 length, GArray *extents, GError **error)
{
  ExtentsRequest request = { extents, offset };

  if (!_imgxfer_qcow2_image_map (self, offset, length, FALSE, extent_run,
                                 &request, error))
    return FALSE;
  if (request.next < offset + length)
    imgxfer_extents_append (extents, request.next,
                            offset + length - request.next,
                            IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  return TRUE;
}
