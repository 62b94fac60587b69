/* imgxfer-qemu-log.c: the messages of a qemu child process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgxfer-qemu-log.h"

int
_imgxfer_qemu_log_new (const char *name)
{
  return memfd_create (name, MFD_CLOEXEC);
}

char *
_imgxfer_qemu_log_read (int fd)
{
  struct stat st;
  char *text;
  ssize_t n;

  if (fstat (fd, &st) < 0)
    return g_strdup ("");
  text = g_malloc (st.st_size + 1);
  n = pread (fd, text, st.st_size, 0);
  text[MAX (n, 0)] = '\0';
  return text;
}
