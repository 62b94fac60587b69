/* imgxfer-archive.c: what an OVA/tar archive holds
 *
 * Reading an archive takes libarchive, which only the tar driver module
 * loads; the listing lives there too (drivers/tar/imgxfer-tar-listing.c)
 * and is reached through the table the tar driver installs, so that a
 * program that never lists an archive does not load either.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-archive.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-archive-private.h"

static const ImgxferArchiveVTable *archive_vtable;

void
_imgxfer_archive_set_vtable (const ImgxferArchiveVTable *vtable)
{
  g_atomic_pointer_set (&archive_vtable, vtable);
}

/**
 * imgxfer_archive_list:
 * @path: an uncompressed tar archive (an OVA): a path, a file: URL or a
 *   tar: URL (whose member, if any, is ignored)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Lists the regular files an archive holds, in archive order, and the
 * disks named by its OVF descriptor if it has one:
 *
 * |[
 * { "archive": "vm.ova",
 *   "members": [ { "name": "vm.ovf", "offset": 512, "size": 6020,
 *                  "format": "raw" },
 *                { "name": "disk1.qcow2", "offset": 7168,
 *                  "size": 196688, "format": "qcow2" } ],
 *   "ovf": "vm.ovf",
 *   "disks": [ { "disk-id": "vmdisk1", "file-ref": "file1",
 *                "href": "disk1.qcow2", "in-archive": true,
 *                "capacity": 1073741824,
 *                "ovf-format": "http://..." } ] }
 * ]|
 *
 * "offset" and "size" locate a member's bytes in the archive file;
 * "format" is probed from its first bytes (as imgxfer_probe_format()
 * does). A member stored sparse has `"sparse": true` and no format: it
 * cannot be read. "ovf", "disks" and, when the descriptor cannot be
 * parsed, "ovf-error" appear only when the archive holds a .ovf member
 * (the first one). A disk is "in-archive" when its href names a member
 * that can be read; its "capacity" (bytes) appears only when it can be
 * worked out from the OVF's capacity and allocation units.
 *
 * Fails, with a message naming @path, on a file that is not a complete,
 * uncompressed tar archive.
 *
 * Returns: (transfer full) (nullable): a JSON object
 */
JsonNode *
imgxfer_archive_list (const char *path,
                      GCancellable *cancellable,
                      GError **error)
{
  const ImgxferArchiveVTable *vtable;

  g_return_val_if_fail (path != NULL, NULL);

  /* The lookup initializes the tar driver's class, loading its module
   * first if need be, and the class installs the table. */
  if (imgxfer_driver_lookup_name ("tar") != G_TYPE_INVALID)
    vtable = g_atomic_pointer_get (&archive_vtable);
  else
    vtable = NULL;
  if (vtable == NULL)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: cannot list archives without the tar driver "
                   "(see `imgxfer drivers`)",
                   path);
      return NULL;
    }
  return vtable->list (path, cancellable, error);
}
