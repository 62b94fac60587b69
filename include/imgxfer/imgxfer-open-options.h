/* imgxfer-open-options.h: how to open an image
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-open-options
 * @title: ImgxferOpenOptions
 * @short_description: how to open an image
 * @see_also: imgxfer_open(), imgxfer_open_destination()
 *
 * An #ImgxferOpenOptions gathers what opening an image may need beside
 * its URL. The defaults open an existing image read only, probing its
 * format.
 */

G_BEGIN_DECLS

/**
 * IMGXFER_TYPE_OPEN_OPTIONS:
 *
 * The #GType of #ImgxferOpenOptions.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_OPEN_OPTIONS (imgxfer_open_options_get_type ())

/**
 * ImgxferOpenOptions:
 *
 * How imgxfer_open() and its kin open an image: for writing or not, its
 * format, the archive member or bitmap to read, TLS settings, and what
 * the caller means to do with it. Each driver reads the options that
 * concern it and ignores the others. Not thread safe: set the options,
 * then open; a backend keeps its own copy.
 *
 * Since: 0.1
 */
IMGXFER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (ImgxferOpenOptions, imgxfer_open_options, IMGXFER,
                      OPEN_OPTIONS, GObject)

IMGXFER_AVAILABLE_IN_ALL
ImgxferOpenOptions *imgxfer_open_options_new (void);
IMGXFER_AVAILABLE_IN_ALL
ImgxferOpenOptions *imgxfer_open_options_copy (ImgxferOpenOptions *self);

/* Open for writing (a destination). Default: read only. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_writable (ImgxferOpenOptions *self,
                                        gboolean writable);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_open_options_get_writable (ImgxferOpenOptions *self);

/* Image format ("raw", "qcow2", ...). %NULL: probed for sources, raw for
 * destinations. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_format (ImgxferOpenOptions *self,
                                      const char *format);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_open_options_get_format (ImgxferOpenOptions *self);

/* The member of a tar/OVA archive holding the image. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_member (ImgxferOpenOptions *self,
                                      const char *member);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_open_options_get_member (ImgxferOpenOptions *self);

/* A dirty bitmap for the dirty extents context. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_bitmap (ImgxferOpenOptions *self,
                                      const char *bitmap);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_open_options_get_bitmap (ImgxferOpenOptions *self);

/* Open only the top layer of a backing chain; its unallocated ranges are
 * reported as holes. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_shallow (ImgxferOpenOptions *self,
                                       gboolean shallow);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_open_options_get_shallow (ImgxferOpenOptions *self);

/* TLS: the CA certificates to trust, or no verification at all. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_ca_file (ImgxferOpenOptions *self,
                                       const char *ca_file);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_open_options_get_ca_file (ImgxferOpenOptions *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_insecure (ImgxferOpenOptions *self,
                                        gboolean insecure);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_open_options_get_insecure (ImgxferOpenOptions *self);

/* A second URL to use when the first cannot be reached. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_proxy_url (ImgxferOpenOptions *self,
                                         const char *proxy_url);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_open_options_get_proxy_url (ImgxferOpenOptions *self);

/* How many connections the caller means to clone (0: driver default);
 * drivers that start a server size it accordingly. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_connections (ImgxferOpenOptions *self,
                                           guint connections);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_open_options_get_connections (ImgxferOpenOptions *self);

/* How long connecting to a server and each request to it may go without
 * progress before it fails, in seconds (0: the driver's default). */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_timeout (ImgxferOpenOptions *self, guint timeout);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_open_options_get_timeout (ImgxferOpenOptions *self);

/* Bypass the page cache (O_DIRECT) where the driver can: local files and
 * block devices. Requests are then bounced through aligned buffers. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_direct (ImgxferOpenOptions *self,
                                      gboolean direct);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_open_options_get_direct (ImgxferOpenOptions *self);

/* Let an image inside an archive read files outside it (its backing file,
 * data file, vmdk extents). Default: refused. */
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_allow_external_files (ImgxferOpenOptions *self,
                                                    gboolean allow);
IMGXFER_AVAILABLE_IN_ALL
gboolean
imgxfer_open_options_get_allow_external_files (ImgxferOpenOptions *self);

/**
 * IMGXFER_DEFAULT_RETRIES:
 *
 * How many times, by default, a driver sends a request again, on a new
 * connection, after it failed in a way that may pass (a server
 * restarting, a connection reset): see imgxfer_open_options_set_retries()
 * and imgxfer_transfer_options_set_retries().
 *
 * Since: 0.1
 */
#define IMGXFER_DEFAULT_RETRIES 3
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_open_options_set_retries (ImgxferOpenOptions *self, guint retries);
IMGXFER_AVAILABLE_IN_ALL
guint imgxfer_open_options_get_retries (ImgxferOpenOptions *self);

G_END_DECLS
