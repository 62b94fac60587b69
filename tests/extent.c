/* extent.c: extents and their merging
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "test-utils.h"

static void
assert_extent (GArray *extents, guint i, guint64 start, guint64 length,
               ImgxferExtentFlags flags)
{
  const ImgxferExtent *e = &g_array_index (extents, ImgxferExtent, i);

  g_assert_cmpuint (e->start, ==, start);
  g_assert_cmpuint (e->length, ==, length);
  g_assert_cmpuint (e->flags, ==, flags);
}

static void
test_merge_same_flags (void)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();

  imgxfer_extents_append (extents, 0, 10, IMGXFER_EXTENT_ZERO);
  imgxfer_extents_append (extents, 10, 5, IMGXFER_EXTENT_ZERO);
  imgxfer_extents_append (extents, 15, 5, IMGXFER_EXTENT_DATA);
  imgxfer_extents_append (extents, 20, 5, IMGXFER_EXTENT_DATA);

  g_assert_cmpuint (extents->len, ==, 2);
  assert_extent (extents, 0, 0, 15, IMGXFER_EXTENT_ZERO);
  assert_extent (extents, 1, 15, 10, IMGXFER_EXTENT_DATA);
}

static void
test_no_merge_different_flags (void)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();

  imgxfer_extents_append (extents, 0, 10, IMGXFER_EXTENT_ZERO);
  imgxfer_extents_append (extents, 10, 10,
                          IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  imgxfer_extents_append (extents, 20, 10, IMGXFER_EXTENT_ZERO);

  g_assert_cmpuint (extents->len, ==, 3);
  assert_extent (extents, 1, 10, 10, IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
}

static void
test_no_merge_gap (void)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();

  imgxfer_extents_append (extents, 0, 10, IMGXFER_EXTENT_DATA);
  imgxfer_extents_append (extents, 11, 10, IMGXFER_EXTENT_DATA);
  imgxfer_extents_append (extents, 21, 0, IMGXFER_EXTENT_ZERO);

  g_assert_cmpuint (extents->len, ==, 2);
}

static void
test_json_zero_context (void)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;

  imgxfer_extents_append (extents, 0, 65536, IMGXFER_EXTENT_DATA);
  imgxfer_extents_append (extents, 65536, 65536,
                          IMGXFER_EXTENT_ZERO | IMGXFER_EXTENT_HOLE);
  node = imgxfer_extents_to_json (extents, IMGXFER_EXTENT_CONTEXT_ZERO);
  text = json_to_string (node, FALSE);

  g_assert_cmpstr (text, ==,
                   "[{\"start\":0,\"length\":65536,\"zero\":false,"
                   "\"hole\":false},{\"start\":65536,\"length\":65536,"
                   "\"zero\":true,\"hole\":true}]");
}

static void
test_json_dirty_context (void)
{
  g_autoptr (GArray) extents = imgxfer_extents_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *text = NULL;

  imgxfer_extents_append (extents, 0, 4096,
                          IMGXFER_EXTENT_DIRTY | IMGXFER_EXTENT_ZERO);
  node = imgxfer_extents_to_json (extents, IMGXFER_EXTENT_CONTEXT_DIRTY);
  text = json_to_string (node, FALSE);

  g_assert_cmpstr (text, ==,
                   "[{\"start\":0,\"length\":4096,\"dirty\":true,"
                   "\"zero\":true}]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/extent/merge/same-flags", test_merge_same_flags);
  g_test_add_func ("/extent/merge/different-flags",
                   test_no_merge_different_flags);
  g_test_add_func ("/extent/merge/gap", test_no_merge_gap);
  g_test_add_func ("/extent/json/zero-context", test_json_zero_context);
  g_test_add_func ("/extent/json/dirty-context", test_json_dirty_context);

  return g_test_run ();
}
