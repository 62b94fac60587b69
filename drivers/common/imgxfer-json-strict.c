/* imgxfer-json-strict.c: JSON from a peer that is not trusted
 *
 * json-glib 1.6 parses "2{}" by keeping the 2, parsing the object, then
 * failing without freeing what it made after the first value: a peer
 * that sends such documents grows the process with each one. It also
 * turns an octal-looking escape ("\333") into a byte that is not UTF-8,
 * which nothing downstream expects (nor could write back out). Both are
 * refused here, before and after json-glib sees the bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "imgxfer-json-strict.h"

/* The length of the JSON value at the start of @data (after blanks), or
 * @length when it does not end there: a string ends at its closing quote,
 * an array or object at its closing bracket, anything else at a blank or
 * a bracket, brace, quote, comma or colon. */
static gsize
first_value_end (const char *data, gsize length)
{
  gsize i = 0, depth = 0;
  gboolean in_string = FALSE;

  while (i < length && g_ascii_isspace (data[i]))
    i++;
  if (i < length && data[i] != '{' && data[i] != '[' && data[i] != '"')
    {
      while (i < length && !g_ascii_isspace (data[i])
             && !strchr ("{}[]\",:", data[i]))
        i++;
      return i;
    }
  for (; i < length; i++)
    {
      if (in_string)
        {
          if (data[i] == '\\')
            i++;
          else if (data[i] == '"')
            in_string = FALSE;
        }
      else if (data[i] == '"')
        in_string = TRUE;
      else if (data[i] == '{' || data[i] == '[')
        depth++;
      else if (data[i] == '}' || data[i] == ']')
        depth--;
      if (!in_string && depth == 0)
        return i + 1;
    }
  return length;
}

/* json-glib 1.6 turns escapes such as "\333" into bytes that are not
 * UTF-8, in strings and member names alike; nothing downstream may see
 * them (they could not even be written back out). */
static gboolean
node_is_utf8 (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          if (!g_utf8_validate (name, -1, NULL) || !node_is_utf8 (member))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!node_is_utf8 (json_array_get_element (array, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      return json_node_get_value_type (node) != G_TYPE_STRING
             || g_utf8_validate (json_node_get_string (node), -1, NULL);
    default:
      return TRUE;
    }
}

JsonNode *
_imgxfer_json_parse_strict (const char *data, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize end;

  data = data ? data : "";
  /* Before json-glib: it would leak what follows the first value. */
  for (end = first_value_end (data, length);
       end < length && g_ascii_isspace (data[end]); end++)
    ;
  if (end < length)
    {
      g_set_error (
          error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
          "unexpected data after the JSON value at byte %" G_GSIZE_FORMAT, end);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                           "no JSON value");
      return NULL;
    }
  if (!node_is_utf8 (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, JSON_PARSER_ERROR,
                           JSON_PARSER_ERROR_INVALID_DATA,
                           "a string is not valid UTF-8");
      return NULL;
    }
  return json_node_ref (json_parser_get_root (parser));
}
