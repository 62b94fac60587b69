/* serve-socket.c: what the kernel knows of a client socket's traffic
 *
 * The kernel's struct tcp_info: glibc's copy stops before the byte
 * counters (Linux 4.1 and 4.2).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "serve-socket.h"

gboolean
serve_socket_tcp_bytes (int fd, guint64 *bytes)
{
  struct tcp_info info;
  socklen_t length = sizeof info;

  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &length) < 0
      || length < G_STRUCT_OFFSET (struct tcp_info, tcpi_bytes_received)
                      + sizeof info.tcpi_bytes_received)
    return FALSE;
  *bytes = info.tcpi_bytes_acked + info.tcpi_bytes_received;
  return TRUE;
}
