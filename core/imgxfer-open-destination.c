/* imgxfer-open-destination.c: where a copy writes, decided once
 *
 * The command line, the daemon and applications all open destinations
 * here, so that each gets the same answers: whether the image is created
 * or opened as it is, that a format has a driver, that the image is none
 * of the files the source reads, that no other process is using it, and
 * that it is big enough. Everything that can refuse does so before the
 * destination is created, truncated or opened for writing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>
#include <imgxfer/imgxfer-image.h>
#include <imgxfer/imgxfer-open-destination.h>
#include <imgxfer/imgxfer-url.h>

#include "imgxfer-driver-private.h"
#include "imgxfer-open-destination-private.h"

/* The path of a plain path or file: URL; NULL for any other URL (opening
 * it says what is wrong with it). */
static char *
local_path (const char *url)
{
  g_autoptr (ImgxferUrl) parsed = imgxfer_url_parse (url, NULL);

  return parsed ? imgxfer_url_get_local_path (parsed, NULL) : NULL;
}

/* Two names of one file: the same inode, or the same block device
 * through two device nodes. */
static gboolean
same_file (const GStatBuf *a, const GStatBuf *b)
{
  if (S_ISBLK (a->st_mode) && S_ISBLK (b->st_mode))
    return a->st_rdev == b->st_rdev;
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Writing a file the source reads would change the source under the copy,
 * and replacing it would destroy it. */
static gboolean
check_not_read_by_source (ImgxferBackend *source, const char *url,
                          const GStatBuf *destination,
                          GCancellable *cancellable, GError **error)
{
  g_auto (GStrv) files
      = imgxfer_backend_get_local_files (source, cancellable, error);

  if (files == NULL)
    return FALSE;

  for (guint i = 0; files[i] != NULL; i++)
    {
      GStatBuf st;

      if (g_stat (files[i], &st) == 0 && same_file (&st, destination))
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                       "%s: the destination is %s, which the source %s "
                       "reads",
                       url, files[i], imgxfer_backend_get_url (source));
          return FALSE;
        }
    }
  return TRUE;
}

/* A file about to be replaced may be a running virtual machine's disk:
 * opening it for writing, as raw bytes, asks its driver whether another
 * process holds it, without changing a byte. */
static gboolean
check_replaceable (const char *url, GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) options = imgxfer_open_options_new ();
  g_autoptr (ImgxferBackend) existing = NULL;

  imgxfer_open_options_set_writable (options, TRUE);
  imgxfer_open_options_set_format (options, "raw");
  existing = imgxfer_open (url, options, cancellable, error);
  return existing != NULL
         && imgxfer_backend_close (existing, IMGXFER_CLOSE_NONE, cancellable,
                                   error);
}

gboolean
_imgxfer_destination_check_size (ImgxferBackend *destination, guint64 size,
                                 ImgxferBackend *source, GError **error)
{
  guint64 destination_size = imgxfer_backend_get_size (destination);
  const char *url = imgxfer_backend_get_url (destination);

  /* A bigger destination keeps its bytes past the source's size, like
   * qemu-img convert -n; a smaller one cannot hold the image. */
  if (destination_size >= size)
    return TRUE;

  if (source != NULL)
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                 "%s: the destination (%" G_GUINT64_FORMAT
                 " bytes) is smaller than the source %s (%" G_GUINT64_FORMAT
                 " bytes)",
                 url, destination_size, imgxfer_backend_get_url (source), size);
  else
    g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                 "%s: the destination (%" G_GUINT64_FORMAT
                 " bytes) is smaller than the image (%" G_GUINT64_FORMAT
                 " bytes)",
                 url, destination_size, size);
  return FALSE;
}

/* What can be refused from the arguments alone. */
static gboolean
check_arguments (const char *url, const char *format, gboolean local,
                 const char *backing_file, ImgxferDestinationFlags flags,
                 GError **error)
{
  if (!_imgxfer_format_is_raw (format)
      && imgxfer_driver_lookup_format (format) == G_TYPE_INVALID)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: no driver for image format \"%s\" (see `imgxfer "
                   "drivers`)",
                   url, format);
      return FALSE;
    }
  /* A remote image takes guest data; a format would be silently lost. */
  if (!local && !_imgxfer_format_is_raw (format))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: format %s needs a local destination (a URL receives "
                   "the guest data itself)",
                   url, format);
      return FALSE;
    }
  if (backing_file != NULL && (flags & IMGXFER_DESTINATION_EXISTING))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_INVALID_ARGUMENT,
                   "%s: a backing file is given when the image is created; "
                   "this one exists already",
                   url);
      return FALSE;
    }
  return TRUE;
}

static ImgxferBackend *
open_existing (const char *url, ImgxferOpenOptions *options, const char *format,
               GCancellable *cancellable, GError **error)
{
  g_autoptr (ImgxferOpenOptions) open_options
      = options ? imgxfer_open_options_copy (options)
                : imgxfer_open_options_new ();

  imgxfer_open_options_set_writable (open_options, TRUE);
  /* A destination's format is never probed. */
  imgxfer_open_options_set_format (
      open_options, _imgxfer_format_is_raw (format) ? "raw" : format);
  return imgxfer_open (url, open_options, cancellable, error);
}

/**
 * imgxfer_open_destination:
 * @url: a path or URL to write
 * @options: (nullable): how to open it: its format (raw when not set; a
 *   destination's format is never probed), direct I/O, connections, TLS
 * @size: how many bytes will be written: a new image gets this size, an
 *   existing one must hold at least this many
 * @source: (nullable): the image the bytes come from; the destination
 *   must be none of the local files it reads
 * @backing_file: (nullable): the backing file of a new image
 * @backing_format: (nullable): the backing file's format
 * @flags: create or open as it is
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the destination of a copy with the policy of `imgxfer convert`.
 * A local regular file (or a path where nothing is) is created at @size,
 * replacing what is there, unless @flags has
 * %IMGXFER_DESTINATION_EXISTING; block devices, pipes, character devices
 * and URLs are opened as they are, with the bytes past @size of a bigger
 * image kept.
 *
 * Before anything is created, truncated or opened for writing, the call
 * refuses a format no driver writes and a format on a URL (which takes
 * guest data) with %IMGXFER_ERROR_NOT_SUPPORTED; a backing file for an
 * existing image, and a destination that is the same file (by device and
 * inode, whatever its spelling) as any file @source reads (its image,
 * backing chain, data file or archive: see
 * imgxfer_backend_get_local_files()) with
 * %IMGXFER_ERROR_INVALID_ARGUMENT; and a file another process is using
 * with %IMGXFER_ERROR_IN_USE. An existing image smaller than @size is
 * refused before anything is written (%IMGXFER_ERROR_INVALID_ARGUMENT).
 *
 * Returns: (transfer full): the destination, open for writing, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
ImgxferBackend *
imgxfer_open_destination (const char *url, ImgxferOpenOptions *options,
                          guint64 size, ImgxferBackend *source,
                          const char *backing_file, const char *backing_format,
                          ImgxferDestinationFlags flags,
                          GCancellable *cancellable, GError **error)
{
  const char *format
      = options ? imgxfer_open_options_get_format (options) : NULL;
  g_autofree char *path = NULL;
  g_autoptr (ImgxferBackend) destination = NULL;
  gboolean exists;
  GStatBuf st;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (source == NULL || IMGXFER_IS_BACKEND (source), NULL);

  path = local_path (url);
  if (!check_arguments (url, format, path != NULL, backing_file, flags, error))
    return NULL;

  exists = path != NULL && g_stat (path, &st) == 0;
  if (exists && source != NULL
      && !check_not_read_by_source (source, url, &st, cancellable, error))
    return NULL;

  /* A device or a pipe cannot be created or resized: it is written into. */
  if (path != NULL && !(flags & IMGXFER_DESTINATION_EXISTING)
      && (!exists || S_ISREG (st.st_mode)))
    {
      if (exists && !check_replaceable (url, cancellable, error))
        return NULL;
      destination
          = imgxfer_create (url, format, size, backing_file, backing_format,
                            options, cancellable, error);
    }
  else
    destination = open_existing (url, options, format, cancellable, error);

  if (destination == NULL
      || !_imgxfer_destination_check_size (destination, size, source, error))
    return NULL;
  return g_steal_pointer (&destination);
}
