/* imgxfer-qemu-log.h: the messages of a qemu child process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A file in memory to give a child as its stderr: nothing is left on
 * disk, and unlike a pipe it never fills up while nobody reads it.
 * Returns its descriptor, or -1 with errno set. */
int _imgxfer_qemu_log_new (const char *name);

/* All that was written to @fd so far. */
char *_imgxfer_qemu_log_read (int fd);

G_END_DECLS
