/* imgxfer-qemu-chain.c: the files of a backing chain
 *
 * A shallow source is served without its backing chain, yet replacing a
 * backing file would still corrupt the image: the chain's files are
 * asked of qemu-img when a destination is checked against the source.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include <imgxfer/imgxfer-error.h>

#include "imgxfer-qemu-chain.h"
#include "imgxfer-qemu-img.h"

gboolean
_imgxfer_qemu_add_chain_files (const char *filename, GPtrArray *files,
                               GCancellable *cancellable, GError **error)
{
  const char *argv[]
      = { "info", "--backing-chain", "--output=json", filename, NULL };
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *out = NULL;
  JsonNode *root;
  JsonArray *chain;

  if (!_imgxfer_qemu_img (argv, &out, cancellable, error)
      || !json_parser_load_from_data (parser, out, -1, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, IMGXFER_ERROR, IMGXFER_ERROR_DRIVER,
                   "qemu-img info gave no backing chain for %s", filename);
      return FALSE;
    }

  /* The first is the image itself, which the caller knows. */
  chain = json_node_get_array (root);
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
