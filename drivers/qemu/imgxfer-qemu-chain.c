/* imgxfer-qemu-chain.c: the files of a backing chain
 *
 * A shallow source is served without its backing chain, yet replacing a
 * backing file would still corrupt the image: the chain's files are
 * asked of qemu-img when a destination is checked against the source.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-chain.h"
#include "imgxfer-qemu-img.h"

JsonArray *
_imgxfer_qemu_backing_chain (const char *filename, GCancellable *cancellable,
                             GError **error)
{
  const char *argv[]
      = { "info", "--backing-chain", "--output=json", "--", filename, NULL };
  g_autoptr (JsonNode) root = _imgxfer_qemu_img_json (argv, cancellable, error);

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "qemu-img info gave no backing chain for %s", filename);
      return NULL;
    }
  return json_node_dup_array (root);
}

gboolean
_imgxfer_qemu_add_chain_files (const char *filename, GPtrArray *files,
                               GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonArray) chain
      = _imgxfer_qemu_backing_chain (filename, cancellable, error);

  if (chain == NULL)
    return FALSE;

  /* The first is the image itself, which the caller knows. */
  for (guint i = 1; i < json_array_get_length (chain); i++)
    {
      JsonObject *layer = json_array_get_object_element (chain, i);
      const char *path = layer ? json_object_get_string_member_with_default (
                             layer, "filename", NULL)
                               : NULL;

      /* A json: name is not a path: its files are not local names. */
      if (path != NULL && !g_str_has_prefix (path, "json:"))
        g_ptr_array_add (files, g_strdup (path));
    }
  return TRUE;
}
