/* fuzz-imageio.c: what the HTTPS driver reads from an imageio server
 *
 * The first byte picks the answer, the rest is its body: OPTIONS (the
 * features), GET /extents?context=zero or ?context=dirty, GET /checksum.
 * The body goes through the driver's own strict JSON parser first. A
 * server is not trusted: whatever it sends, the driver takes sane
 * features or refuses the extents, the extents it takes are contiguous
 * from 0, and nothing leaks (json-glib would, given "2{}").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "drivers/common/imgxfer-json-strict.h"
#include "drivers/imageio/imgxfer-imageio-http.h"

#include "fuzz.h"

static void
fuzz_options (JsonNode *root)
{
  ImgxferImageioFeatures features = { 0 };

  if (!JSON_NODE_HOLDS_OBJECT (root))
    return;
  _imgxfer_imageio_read_features (json_node_get_object (root), &features);
  g_assert_cmpuint (features.max_readers, >=, 1);
  g_assert_cmpuint (features.max_writers, >=, 1);
  _imgxfer_imageio_features_clear (&features);
}

static void
fuzz_extents (JsonNode *root, ImgxferExtentContext context)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) extents
      = _imgxfer_imageio_read_extents (root, context, "fuzz", &error);
  guint64 end = 0;

  if (extents == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  for (guint i = 0; i < extents->len; i++)
    {
      const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

      g_assert_cmpuint (e->start, ==, end);
      g_assert_cmpuint (e->length, >, 0);
      end = e->start + e->length;
    }
}

/* Only the checksum asked for is taken. */
static void
fuzz_checksum (JsonNode *root)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *checksum = _imgxfer_imageio_read_checksum (
      root, "blake2b", 4 * 1024 * 1024, "fuzz", &error);

  g_assert_true ((checksum == NULL) == (error != NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (JsonNode) root = NULL;

  /* A critical from json-glib is a misuse of its API: a crash here. */
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  if (size == 0)
    return 0;
  root = _imgxfer_json_parse_strict ((const char *)data + 1, size - 1, NULL);
  if (root == NULL)
    return 0;
  switch (data[0] % 4)
    {
    case 0:
      fuzz_options (root);
      break;
    case 1:
      fuzz_extents (root, IMGXFER_EXTENT_CONTEXT_ZERO);
      break;
    case 2:
      fuzz_extents (root, IMGXFER_EXTENT_CONTEXT_DIRTY);
      break;
    default:
      fuzz_checksum (root);
      break;
    }
  return 0;
}
