/* serve-json.c: JSON and Python-style text as imageio writes them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "serve-error.h"
#include "serve-json.h"

static void dump_node (GString *out, JsonNode *node);

static void
dump_string (GString *out, const char *text)
{
  const char *p;

  g_string_append_c (out, '"');
  for (p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (c >= 0x20 && c < 0x7f)
            g_string_append_c (out, c);
          else if (c < 0x10000)
            g_string_append_printf (out, "\\u%04x", c);
          else
            {
              /* Python writes a UTF-16 surrogate pair. */
              c -= 0x10000;
              g_string_append_printf (out, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
                                      0xdc00 + (c & 0x3ff));
            }
        }
    }
  g_string_append_c (out, '"');
}

static void
dump_object (GString *out, JsonObject *object)
{
  g_autoptr (GList) members = json_object_get_members (object);

  g_string_append_c (out, '{');
  for (GList *l = members; l; l = l->next)
    {
      if (l != members)
        g_string_append (out, ", ");
      dump_string (out, l->data);
      g_string_append (out, ": ");
      dump_node (out, json_object_get_member (object, l->data));
    }
  g_string_append_c (out, '}');
}

static void
dump_array (GString *out, JsonArray *array)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      dump_node (out, json_array_get_element (array, i));
    }
  g_string_append_c (out, ']');
}

static void
dump_value (GString *out, JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              json_node_get_int (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append (
            out, g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node)));
      }
      break;
    default:
      dump_string (out, json_node_get_string (node));
    }
}

static void
dump_node (GString *out, JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      dump_object (out, json_node_get_object (node));
      break;
    case JSON_NODE_ARRAY:
      dump_array (out, json_node_get_array (node));
      break;
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
      dump_value (out, node);
      break;
    }
}

char *
serve_json_dumps (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  dump_node (out, node);
  g_string_append_c (out, '\n');
  return g_string_free (out, FALSE);
}

char *
serve_repr (const char *text)
{
  char quote = strchr (text, '\'') && !strchr (text, '"') ? '"' : '\'';
  GString *out = g_string_new (NULL);

  g_string_append_c (out, quote);
  for (const char *p = text; *p; p++)
    {
      if (*p == quote || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if ((guchar)*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\x%02x", (guchar)*p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, quote);
  return g_string_free (out, FALSE);
}

char *
serve_json_repr (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING)
    return serve_repr (json_node_get_string (node));
  return json_to_string (node, FALSE);
}

gboolean
serve_json_get_integer (JsonObject *object, const char *key, gboolean required,
                        guint64 max, guint64 *value, GError **error)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *text = NULL;

  if (node == NULL)
    {
      if (required)
        g_set_error (error, SERVE_ERROR, 400, "Missing required value for '%s'",
                     key);
      return !required;
    }
  text = serve_json_repr (node);
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, SERVE_ERROR, 400, "Integer required %s", text);
      return FALSE;
    }
  if (json_node_get_int (node) < 0)
    {
      g_set_error (error, SERVE_ERROR, 400, "Invalid value %s < 0", text);
      return FALSE;
    }
  if ((guint64)json_node_get_int (node) > max)
    {
      g_set_error (error, SERVE_ERROR, 400,
                   "Invalid value %s > %" G_GUINT64_FORMAT, text, max);
      return FALSE;
    }
  *value = json_node_get_int (node);
  return TRUE;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

char **
serve_sorted_strv (const char *const *strv)
{
  char **sorted = g_strdupv ((char **)strv);

  qsort (sorted, g_strv_length (sorted), sizeof (char *), compare_strings);
  return sorted;
}
