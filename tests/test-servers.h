/* test-servers.h: NBD servers (qemu-nbd, nbdkit) started by tests, and
 * helpers that read, write and check backends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

typedef struct _TestServer TestServer;

/* Starts @argv (a server that listens on the unix socket @socket_path,
 * in the foreground) and waits up to 60 s until it completes an NBD
 * handshake; fails the test if it exits or times out. */
TestServer *test_server_start (const char *const *argv,
                               const char *socket_path);
/* The same for a server reached at @uri (loopback TCP, for instance). */
TestServer *test_server_start_uri (const char *const *argv, const char *uri);
/* qemu-nbd serving @path as @format, read only, on the unix socket
 * @socket_path: to several clients at once, and one after another. */
TestServer *test_qemu_nbd_start (const char *path, const char *format,
                                 const char *socket_path);
/* Sends @command to the control socket @socket_path of nbdkit's pause
 * filter and waits for its answer: after 'p', no request is served until
 * 'r'. */
void test_pause_control (const char *socket_path, char command);
/* tests/web-server.py serving the files of @root over HTTPS with @cert
 * and @key (NULL: plain HTTP), given @option (NULL: none), on a loopback
 * port put in *@port; it dies with the test. */
GSubprocess *test_web_server_start (const char *root, const char *cert,
                                    const char *key, const char *option,
                                    guint16 *port);
/* A TCP port nobody listens on now. */
guint16 test_free_tcp_port (void);
/* "nbd+unix:///?socket=PATH", or the URI given */
const char *test_server_get_uri (TestServer *server);
/* SIGTERM, then SIGKILL after 10 s; waits for the process. */
void test_server_stop (TestServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_stop)

/* How many child processes of this test program are named @name. */
guint test_count_children (const char *name);
/* The pid of a child of this test program named @name, 0 if none. */
int test_find_child (const char *name);
/* Whether @pid has exited (a zombie counts: a container's init may never
 * reap it). */
gboolean test_process_gone (int pid);
/* Waits up to @seconds for @pid to be gone; TRUE as soon as it was seen
 * gone once (the test is not repeated: the pid may be reused). */
gboolean test_wait_process_gone (int pid, guint seconds);

/* Asserts that @extents are exactly @expected, printing both on a
 * mismatch. */
void test_assert_extents (GArray *extents, const ImgxferExtent *expected,
                          guint n_expected);

/* All extents of @backend, merged; fails the test on an error. */
GArray *test_all_extents (ImgxferBackend *backend,
                          ImgxferExtentContext context);
/* Writes @length bytes of @byte at @offset of a destination. */
void test_backend_fill (ImgxferBackend *backend, guint64 offset, gsize length,
                        guint8 byte);
/* Asserts that @length bytes at @offset of a source all are @byte. */
void test_backend_assert_bytes (ImgxferBackend *backend, guint64 offset,
                                gsize length, guint8 byte);

G_END_DECLS
