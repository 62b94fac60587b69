/* test-utils.h: fixtures shared by the unit tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <imgxfer/imgxfer.h>

G_BEGIN_DECLS

/* A new empty directory, removed with its contents by
 * test_tmpdir_free(). */
char *test_tmpdir_new (void);
void test_tmpdir_free (char *path);

/* Writes @length bytes of @byte at @offset of @path, creating it. */
void test_write_pattern (const char *path,
                         guint64 offset,
                         gsize length,
                         guint8 byte);
/* Creates (or truncates) @path to a sparse file of @size bytes. */
void test_create_sparse (const char *path, guint64 size);

/* The size of the file @path, which must exist. */
guint64 test_file_size (const char *path);

/* What each descriptor of process @pid is open on (the targets of its
 * /proc/PID/fd links): a path, or "socket:[INODE]" and the like. */
GPtrArray *test_fd_targets (GPid pid);

/* The SHA-256 of all of @path's bytes, to show a file unchanged. */
char *test_file_digest (const char *path);

/* Runs a command; returns its exit status and, optionally, its output. */
int test_run (const char *const *argv, char **out, char **err);
/* Runs a command that must succeed; stops the test with its stderr if
 * it does not. */
void test_run_ok (const char *const *argv);
/* Creates @path with `qemu-img create -f @format`: of @size, or on top of
 * @backing (of @backing_format) when it is not NULL. */
void test_qemu_img_create (const char *path,
                           const char *format,
                           const char *size,
                           const char *backing,
                           const char *backing_format);
/* Runs each of @commands (NULL-terminated) on @path with `qemu-io -f
 * @format -c COMMAND...`, as the imageio tests write through qemu-nbd:
 * "write -z" is NBD_CMD_WRITE_ZEROES without NO_HOLE. Must succeed. */
void test_qemu_io (const char *path,
                   const char *format,
                   const char *const *commands);
/* Waits for @process (made with a stderr pipe, and a stdout pipe when
 * @out is wanted) and returns its exit status, 128 + the signal that
 * killed it. */
int test_wait_process (GSubprocess *process, char **out, char **err);
/* Reads the stderr pipe of an `imgxfer convert -p` until its progress
 * first shows: the copy has started. */
void test_wait_for_progress (GSubprocess *process);
/* Runs the imgxfer command line built with the tests. */
int test_run_cli (const char *const *args, char **out, char **err);
/* Starts it with @launcher's pipes and environment. */
GSubprocess *test_spawn_cli (GSubprocessLauncher *launcher,
                             const char *const *args);

/* Writes a self-signed CA certificate @ca for @subject, its key @key. */
void test_make_ca (const char *ca, const char *key, const char *subject);
/* Writes a certificate @cert for @subject (its key @key) that @issuer
 * (its key @issuer_key) signs with the extensions @extensions (the lines
 * of an openssl extfile); @dir holds the request. */
void test_sign_certificate (const char *dir, const char *subject,
                            const char *issuer, const char *issuer_key,
                            const char *extensions, const char *cert,
                            const char *key);
/* Writes in @dir a CA certificate @ca and a certificate @cert (its key
 * @key) that the CA signs for 127.0.0.1 and localhost. */
void test_make_certificates (const char *dir, const char *ca, const char *cert,
                             const char *key);

/* The root of the JSON document @text, which must parse. */
JsonNode *test_parse_json (const char *text);

/* Asserts that `qemu-img compare` finds the two images identical. */
void test_assert_images_equal (const char *path1,
                               const char *format1,
                               const char *path2,
                               const char *format2,
                               gboolean strict);

/* The integer @member of what `qemu-img @command --output=json @path`
 * prints ("info" virtual-size, "check" allocated-clusters). */
gint64 test_qemu_img_json_int (const char *command,
                               const char *path,
                               const char *member);

/* The allocation of a qcow2 image's own layer, without its backing
 * chain, one "start+length present data zero" line per run, as qemu-img
 * map reports it ("present": allocated in this layer, data or zero). */
char *test_top_layer_map (const char *path);

/* Opens @url with @writable and a raw format (no probing). */
ImgxferBackend *test_open (const char *url, gboolean writable);

/* Creates the tar archive @archive holding the files @paths[i] as the
 * members @names[i] (Python's tarfile, its default pax format), and
 * returns where the first member's data is, as tarfile reports it
 * (offset_data, size). */
void test_create_ova (const char *archive,
                      const char *const *paths,
                      const char *const *names,
                      guint64 *offset,
                      guint64 *size);

G_END_DECLS
