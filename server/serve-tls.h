/* serve-tls.h: the remote service's certificate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The certificate and key from PEM files, with the chain of @ca_file
 * (nullable) sent after it. */
GTlsCertificate *serve_tls_load (const char *cert_file, const char *key_file,
                                 const char *ca_file, GError **error);

/* Makes a self-signed certificate for this host (and localhost) with
 * openssl, the key readable by its owner only; kept when both exist. */
gboolean serve_tls_ensure_self_signed (const char *cert_file,
                                       const char *key_file, GError **error);

G_END_DECLS
