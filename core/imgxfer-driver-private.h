/* imgxfer-driver-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer-backend.h>

G_BEGIN_DECLS

/* Registers the drivers linked into the library: a table the build
 * generates beside them. */
void _imgxfer_register_builtin_drivers (void);

/* The driver that opens members of archives and lists them (its class
 * has list_members), or G_TYPE_INVALID. */
GType _imgxfer_driver_lookup_members (void);

/* The lower-case scheme of a URL, "" for a plain path. */
char *_imgxfer_url_scheme (const char *url);

/* Asked of one driver class of a format: returns the answer; %NULL with
 * G_IO_ERROR_NOT_SUPPORTED to pass to the next driver; %NULL without an
 * error when the class lacks the method (also the next). */
typedef gpointer (*ImgxferFormatDriverFunc) (ImgxferBackendClass *klass,
                                             gpointer user_data,
                                             GError **error);

/* Asks the drivers of @format in resolution order until one answers.
 * %NULL with an error when one failed, when every driver passed (the last
 * one's error), or when there is no driver for @format ("URL: no driver
 * for image format"); %NULL without an error when none has the method. */
gpointer _imgxfer_driver_ask_format (const char *format,
                                     const char *url,
                                     ImgxferFormatDriverFunc func,
                                     gpointer user_data,
                                     GError **error);

/* The format signatures of every driver (strings, see
 * #ImgxferBackendClass.signatures), in resolution order, without loading
 * a module: a described module's from its description. */
GPtrArray *_imgxfer_driver_list_signatures (void);

/* imgxfer-probe.c: whether @text is a signature of the form
 * "FORMAT:OFFSET:HEX". */
gboolean _imgxfer_signature_is_valid (const char *text);

/* imgxfer-image.c: the protocol level of an image, and its probed
 * format. */
ImgxferBackend *_imgxfer_open_protocol (const char *url,
                                        ImgxferOpenOptions *options,
                                        const char **probed,
                                        GCancellable *cancellable,
                                        GError **error);

/* imgxfer-backend.c: gives @self (being opened) @protocol (taken, may be
 * NULL) for imgxfer_backend_open_protocol(); after the open, takes it
 * back if the driver did not take it. */
void _imgxfer_backend_hand_protocol (ImgxferBackend *self,
                                     ImgxferBackend *protocol);
ImgxferBackend *_imgxfer_backend_take_back_protocol (ImgxferBackend *self);

/* imgxfer-image.c: whether @format (NULL: none given) means raw bytes. */
gboolean _imgxfer_format_is_raw (const char *format);

G_END_DECLS
