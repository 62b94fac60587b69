/* imgxfer-size.h: sizes as people write them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <imgxfer/imgxfer-version.h>

/**
 * SECTION:imgxfer-size
 * @title: Sizes
 * @short_description: sizes as people write them
 *
 * imgxfer_size_parse() reads "4k", "1MiB" or "2g" as a number of bytes,
 * in powers of 1024, as `qemu-img` and the `imgxfer` command take sizes.
 */

G_BEGIN_DECLS

IMGXFER_AVAILABLE_IN_0_1
gboolean imgxfer_size_parse (const char *text, guint64 *size, GError **error);

G_END_DECLS
