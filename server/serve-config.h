/* serve-config.h: what `imgxfer serve` is told, from options and a file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  /* [daemon] */
  char *state_dir;          /* certificate and default sockets */
  guint inactivity_timeout; /* seconds; tickets may ask for another */
  guint threads;            /* threads serving the remote service */
  gboolean verbose;
  /* [tls] */
  char *cert_file;
  char *key_file;
  char *ca_file;
  /* [remote] */
  char *host;
  int port;
  /* [local] */
  gboolean local_enable;
  char *local_socket;
  /* [control] */
  char *control_socket;
  int control_port;     /* -1: the unix socket */
  guint remove_timeout; /* seconds DELETE waits for operations */
} ServeConfig;

/* The defaults: port 54322 on every address, a state directory under the
 * user's state dir, the sockets in it. */
ServeConfig *serve_config_new (void);
void serve_config_free (ServeConfig *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeConfig, serve_config_free)

/* Reads a GKeyFile with the sections [daemon], [tls], [remote], [local]
 * and [control]; an unknown key or a bad value is an error naming it. */
gboolean serve_config_load (ServeConfig *self, const char *path,
                            GError **error);

/* Fills what was left empty from the state directory. */
void serve_config_finish (ServeConfig *self);

G_END_DECLS
