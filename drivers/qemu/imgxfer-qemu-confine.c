/* imgxfer-qemu-confine.c: images in archives read nothing outside them
 *
 * A disk in an OVA comes from whoever made the archive, and its format
 * may name any file of this host: a qcow2 backing file or external data
 * file, a vmdk descriptor's extents. So does an image read in a format
 * from an NBD export, which its server's owner wrote. Copied as they are, such references
 * would put a host file's bytes into the image. The backend opens a
 * member without its backing chain and checks, before anything is read,
 * that the header names no backing file (qemu-img info reports the name
 * without opening it) and that qemu-nbd opened no file but the archive
 * (which covers data files and extents, whatever the format).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-confine.h"
#include "imgxfer-qemu-img.h"

#define HINT "allow it with --allow-external-files"

/* Where a confined image lies, for messages. */
static const char *
container (const char *archive)
{
  return archive ? "the archive" : "the NBD export";
}

gboolean
_imgxfer_qemu_check_no_backing (const char *name, const char *filename,
                                const char *archive,
                                GCancellable *cancellable, GError **error)
{
  const char *argv[] = { "info", "--output=json", "--", filename, NULL };
  g_autoptr (JsonNode) root = _imgxfer_qemu_img_json (argv, cancellable, error);
  const char *backing;

  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "%s: qemu-img info gave no description", name);
      return FALSE;
    }
  backing = json_object_get_string_member_with_default (
      json_node_get_object (root), "backing-filename", NULL);
  if (backing == NULL)
    return TRUE;

  g_set_error (
      error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
      "%s: the image names a backing file outside %s, %s; " HINT, name,
      container (archive), backing);
  return FALSE;
}

static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;

  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

gboolean
_imgxfer_qemu_check_files_in_archive (const char *name,
                                      ImgxferQemuNbdServer *server,
                                      const char *archive, GError **error)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  if (!imgxfer_qemu_nbd_server_add_open_files (server, files, error))
    return FALSE;

  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);

      if (archive == NULL || !same_file (path, archive))
        {
          g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_BAD_IMAGE,
                       "%s: the image reads a file outside %s, %s "
                       "(an extent or data file); " HINT,
                       name, container (archive), path);
          return FALSE;
        }
    }
  return TRUE;
}
