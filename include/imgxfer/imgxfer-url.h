/* imgxfer-url.h: the paths and URLs that name images, parsed once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-url
 * @title: ImgxferUrl
 * @short_description: the paths and URLs that name images
 *
 * Images are named by plain paths ("disk.img", "/dev/sdb") or URLs
 * ("nbd://host/export", "https://host:54322/images/TICKET",
 * "memory:NAME?size=1g"), and qemu's older NBD forms
 * ("nbd:unix:PATH[:exportname=NAME]"). #ImgxferUrl is the one parser of
 * them all: the registry picks a driver by the scheme it finds, and
 * drivers read the host, path and query parameters from it.
 */

G_BEGIN_DECLS

/**
 * ImgxferUrl:
 *
 * A path or URL naming an image, parsed: the one parser every part of
 * imgxfer uses, so that the registry, the drivers and the command read a
 * name the same way. Immutable and reference counted.
 *
 * Since: 0.1
 */
typedef struct _ImgxferUrl ImgxferUrl;

/**
 * IMGXFER_TYPE_URL:
 *
 * The boxed #GType of #ImgxferUrl.
 *
 * Since: 0.1
 */
#define IMGXFER_TYPE_URL (imgxfer_url_get_type ())
IMGXFER_AVAILABLE_IN_ALL
GType imgxfer_url_get_type (void) G_GNUC_CONST;

IMGXFER_AVAILABLE_IN_ALL
ImgxferUrl *imgxfer_url_parse (const char *string, GError **error);
IMGXFER_AVAILABLE_IN_ALL
ImgxferUrl *imgxfer_url_ref (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
void imgxfer_url_unref (ImgxferUrl *self);

IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_get_string (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_get_scheme (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_get_host (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
int imgxfer_url_get_port (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_get_path (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_get_param (ImgxferUrl *self, const char *name);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_url_check_params (ImgxferUrl *self, const char *const *known,
                                   GError **error);
IMGXFER_AVAILABLE_IN_ALL
gboolean imgxfer_url_is_local (ImgxferUrl *self);
IMGXFER_AVAILABLE_IN_ALL
char *imgxfer_url_get_local_path (ImgxferUrl *self, GError **error);
IMGXFER_AVAILABLE_IN_ALL
const char *imgxfer_url_to_string (ImgxferUrl *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImgxferUrl, imgxfer_url_unref)

G_END_DECLS
