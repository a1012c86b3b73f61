/*
 * exec_fx.h - what the end-to-end tests of opc-exec-run share
 * (test_exec_run, test_exec_mirror, test_exec_push): a scratch root with
 * its own HOME and git configuration, a test shell, the worker's result,
 * and the GitHub fixture started on a loopback port.
 */
#ifndef OPC_EXEC_FX_H
#define OPC_EXEC_FX_H

#include <sys/types.h>

#include <jansson.h>

#include "opc/util.h"

/* exfx_sh runs a test command through system(3) (only the test uses a
 * shell) and returns its exit status, -1 if it did not exit. */
int exfx_sh(const char *fmt, ...) PRINTFLIKE(1, 2);
/* exfx_capture returns the trimmed stdout of cmd, NULL if it failed. */
char *exfx_capture(const char *cmd);
/* exfx_root makes /tmp/<name>.XXXXXX and points HOME at it, with no
 * system git configuration and no GIT_DIR; NULL on failure. */
char *exfx_root(const char *name);
/* exfx_unroot removes root (kept when KEEP is set) and frees it. */
void exfx_unroot(char *root);
/* exfx_result loads the result file; on failure prints log (if not
 * NULL) and fails the test. */
json_t *exfx_result(const char *path, const char *log);
/* exfx_rstr: the string at key of a result, or NULL. */
const char *exfx_rstr(const json_t *r, const char *key);
/* exfx_github starts opc-fixture-github from bin_dir with args (its
 * port file under root); the port, or -1, with *pid set. */
int exfx_github(
    const char *bin_dir, const char *root, const char *args, pid_t *pid);
/* exfx_github_stop ends the fixture; 0 if it exited cleanly. */
int exfx_github_stop(pid_t pid);

#endif
