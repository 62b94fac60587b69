/* serve-config.c: what `imgxfer serve` is told, from options and a file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "serve-config.h"

ServeConfig *
serve_config_new (void)
{
  ServeConfig *self = g_new0 (ServeConfig, 1);

  self->inactivity_timeout = 60;
  self->threads = CLAMP (g_get_num_processors (), 2, 4);
  self->port = 54322;
  self->local_enable = TRUE;
  self->control_port = -1;
  self->remove_timeout = 60;
  return self;
}

void
serve_config_free (ServeConfig *self)
{
  g_free (self->state_dir);
  g_free (self->cert_file);
  g_free (self->key_file);
  g_free (self->ca_file);
  g_free (self->host);
  g_free (self->local_socket);
  g_free (self->control_socket);
  g_free (self);
}

typedef enum
{
  KEY_STRING,
  KEY_INT,
  KEY_BOOL,
} KeyType;

typedef struct
{
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  int min, max;
} Key;

#define STRING(g, k, f)                                                        \
  {                                                                            \
    g, k, KEY_STRING, G_STRUCT_OFFSET (ServeConfig, f)                         \
  }
#define INT(g, k, f, lo, hi)                                                   \
  {                                                                            \
    g, k, KEY_INT, G_STRUCT_OFFSET (ServeConfig, f), lo, hi                    \
  }
#define BOOL(g, k, f)                                                          \
  {                                                                            \
    g, k, KEY_BOOL, G_STRUCT_OFFSET (ServeConfig, f)                           \
  }

static const Key keys[] = {
  STRING ("daemon", "state_dir", state_dir),
  INT ("daemon", "inactivity_timeout", inactivity_timeout, 0, G_MAXINT),
  INT ("daemon", "threads", threads, 1, 64),
  BOOL ("daemon", "verbose", verbose),
  STRING ("tls", "cert_file", cert_file),
  STRING ("tls", "key_file", key_file),
  STRING ("tls", "ca_file", ca_file),
  STRING ("remote", "host", host),
  INT ("remote", "port", port, 0, 65535),
  BOOL ("local", "enable", local_enable),
  STRING ("local", "socket", local_socket),
  STRING ("control", "socket", control_socket),
  INT ("control", "port", control_port, -1, 65535),
  INT ("control", "remove_timeout", remove_timeout, 0, G_MAXINT),
};

static const Key *
find_key (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return &keys[i];
  return NULL;
}

static gboolean
load_key (ServeConfig *self, GKeyFile *file, const char *path, const Key *key,
          GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (self, key->offset);
  g_autoptr (GError) local = NULL;

  switch (key->type)
    {
    case KEY_STRING:
      g_free (*(char **)field);
      *(char **)field
          = g_key_file_get_string (file, key->group, key->key, NULL);
      return TRUE;
    case KEY_BOOL:
      *(gboolean *)field
          = g_key_file_get_boolean (file, key->group, key->key, &local);
      break;
    case KEY_INT:
      {
        int value = g_key_file_get_integer (file, key->group, key->key, &local);
        if (local == NULL && (value < key->min || value > key->max))
          g_set_error (&local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "out of range %d-%d", key->min, key->max);
        else
          *(int *)field = value;
      }
      break;
    }
  if (local == NULL)
    return TRUE;
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "%s: [%s] %s: %s", path, key->group, key->key, local->message);
  return FALSE;
}

gboolean
serve_config_load (ServeConfig *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_auto (GStrv) groups = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, local->domain, local->code, "%s: %s", path,
                   local->message);
      return FALSE;
    }
  groups = g_key_file_get_groups (file, NULL);
  for (char **group = groups; *group; group++)
    {
      g_auto (GStrv) names = g_key_file_get_keys (file, *group, NULL, NULL);

      for (char **name = names; name && *name; name++)
        {
          const Key *key = find_key (*group, *name);

          if (key == NULL)
            {
              g_set_error (error, G_KEY_FILE_ERROR,
                           G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                           "%s: unknown key [%s] %s", path, *group, *name);
              return FALSE;
            }
          if (!load_key (self, file, path, key, error))
            return FALSE;
        }
    }
  /* As --control-socket and --control-port: one place for the control
   * service, never one silently ignored. */
  if (g_key_file_has_key (file, "control", "socket", NULL)
      && g_key_file_has_key (file, "control", "port", NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [control] socket and port exclude each other", path);
      return FALSE;
    }
  return TRUE;
}

void
serve_config_finish (ServeConfig *self)
{
  if (self->state_dir == NULL)
    self->state_dir
        = g_build_filename (g_get_user_state_dir (), "imgxfer", NULL);
  if (self->local_enable && self->local_socket == NULL)
    self->local_socket = g_build_filename (self->state_dir, "local.sock", NULL);
  if (self->control_port < 0 && self->control_socket == NULL)
    self->control_socket
        = g_build_filename (self->state_dir, "control.sock", NULL);
}
