/* imgxfer-archive.c: what an OVA/tar archive holds
 *
 * The driver that opens members of archives lists them too (its class's
 * list_members), so that what reads archives (libarchive) is loaded only
 * with that driver, when a program lists an archive.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-archive.h>
#include <imgxfer/imgxfer-driver.h>
#include <imgxfer/imgxfer-error.h>

#include "imgxfer-driver-private.h"

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
 * Fails, with a message naming @path, with %IMGXFER_ERROR_BAD_IMAGE on a
 * file that is not a complete, uncompressed tar archive, with
 * %G_IO_ERROR when it cannot be read, and with
 * %IMGXFER_ERROR_NOT_SUPPORTED when no driver reads archives.
 *
 * Returns: (transfer full) (nullable): a JSON object, or %NULL with
 *   @error set
 *
 * Since: 0.1
 */
JsonNode *
imgxfer_archive_list (const char *path,
                      GCancellable *cancellable,
                      GError **error)
{
  GType type;
  g_autoptr (GTypeClass) klass = NULL;
  ImgxferBackendClass *backend_class;

  g_return_val_if_fail (path != NULL, NULL);

  type = _imgxfer_driver_lookup_members ();
  if (type == G_TYPE_INVALID)
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_NOT_SUPPORTED,
                   "%s: cannot list archives: no driver reads them "
                   "(see `imgxfer drivers`)",
                   path);
      return NULL;
    }
  klass = g_type_class_ref (type);
  backend_class = (ImgxferBackendClass *)klass;
  return backend_class->list_members (backend_class, path, cancellable, error);
}
