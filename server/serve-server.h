/* serve-server.h: the daemon behind `imgxfer serve`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "serve-config.h"
#include "serve-tickets.h"

G_BEGIN_DECLS

typedef struct _ServeServer ServeServer;

typedef enum
{
  SERVE_SERVICE_REMOTE, /* HTTPS: images and /info/ */
  SERVE_SERVICE_LOCAL,  /* HTTP on a unix socket: images */
  SERVE_SERVICE_CONTROL /* HTTP on a unix socket or loopback: tickets */
} ServeServiceKind;

/* Takes @config. */
ServeServer *serve_server_new (ServeConfig *config);
void serve_server_free (ServeServer *self);

/* Binds every service and starts serving them in their threads; the
 * control service is served from the caller's main context. */
gboolean serve_server_start (ServeServer *self, GError **error);
/* Stops accepting, cancels every ticket, waits for the requests that use
 * a backend and closes the backends, flushed. Call from the thread that
 * called serve_server_start(), outside its main loop callbacks' locks. */
void serve_server_stop (ServeServer *self);

/* Where the remote service listens: "https://HOST:PORT". */
char *serve_server_get_remote_url (ServeServer *self);
/* The control service's TCP port, or 0 on a unix socket. */
guint16 serve_server_get_control_port (ServeServer *self);
/* Where the self-signed certificate is, when one was made or reused. */
const char *serve_server_get_generated_cert (ServeServer *self);

ServeConfig *serve_server_get_config (ServeServer *self);
ServeTickets *serve_server_get_tickets (ServeServer *self);

G_END_DECLS
