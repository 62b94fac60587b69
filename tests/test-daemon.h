/* test-daemon.h: a real `imgxfer serve` spawned by a test
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct
{
  char *dir;
  GPid pid;
  char *url; /* https://127.0.0.1:PORT */
  char *control;
  char *local;
  SoupSession *https;           /* trusts the CA given at start */
  SoupSession *control_session; /* on the control socket */
} TestDaemon;

/* Starts `imgxfer serve` on a free loopback port with @cert and @key,
 * its sockets and state in @dir, and waits for its "listening on" line.
 * @config is the rest of its configuration file, which starts inside
 * the [daemon] group. The daemon gets SIGTERM if the test dies. */
void test_daemon_start (TestDaemon *d, const char *dir, const char *ca,
                        const char *cert, const char *key, const char *config);
/* SIGTERM, then waits up to 20 s; returns the wait status. A daemon
 * still running then is killed with its children, and the test fails. */
int test_daemon_stop (TestDaemon *d);
/* The same with @signal. */
int test_daemon_stop_with (TestDaemon *d, int signal);
/* The same, waiting up to @seconds. */
int test_daemon_stop_within (TestDaemon *d, int signal, guint seconds);
/* SIGKILL to the daemon and to its children (a qemu-nbd), as a crash
 * would end them: what they held in memory is lost. */
void test_daemon_crash (TestDaemon *d);
/* Starts a crashed daemon again, on the same port, with the same
 * configuration and no tickets. */
void test_daemon_restart (TestDaemon *d, const char *ca, const char *cert,
                          const char *key);

G_END_DECLS
