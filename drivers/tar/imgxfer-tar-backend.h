/* imgxfer-tar-backend.h: members of tar archives (OVA) as sources
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

#include "imgxfer-tar-archive.h"

G_BEGIN_DECLS

#define IMGXFER_TYPE_TAR_BACKEND (imgxfer_tar_backend_get_type ())
G_DECLARE_FINAL_TYPE (ImgxferTarBackend, imgxfer_tar_backend, IMGXFER,
                      TAR_BACKEND, ImgxferBackend)

/* The archive path named by a tar: URL, a file: URL or a plain path (the
 * query of a tar: URL is ignored). */
char *_imgxfer_tar_archive_path_from_url (const char *url, GError **error);

/* A source reading @member of @archive, which is not scanned again. */
ImgxferBackend *
_imgxfer_tar_backend_new_for_member (ImgxferTarArchive *archive,
                                     const ImgxferTarMember *member,
                                     GCancellable *cancellable,
                                     GError **error);

/* imgxfer_archive_list(), through the class's list_members. */
JsonNode *_imgxfer_tar_archive_list (const char *path,
                                     GCancellable *cancellable,
                                     GError **error);

G_END_DECLS
