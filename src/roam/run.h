/* Other programs roam up and down run (roamd, hooks, resolvconf), and the
 * "[#] ..." narration of every change they make, which wg-quick users
 * know: each change to the system is announced on stderr before it is
 * made, in the words of the `ip` command that would do the same. */
#ifndef ROAM_RUN_H
#define ROAM_RUN_H

#include <stdbool.h>
#include <stddef.h>

/* "[#] " and the text, on stderr. */
void run_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs argv[0] (found through PATH) with argv, input (if not NULL) on its
 * standard input, and waits. Returns its exit status, 128 + the signal
 * that killed it, or -errno if it could not be started. */
int run_command(char *const argv[], const char *input);

/* Runs argv like run_command, without input, and returns what it wrote to
 * standard output (NUL-terminated, at most 4 MiB; its stderr is dropped)
 * in *out, to free. Returns its exit status as run_command does. */
int run_capture(char *const argv[], char **out, size_t *len);

/* One Pre/Post Up/Down hook: %i becomes ifname, then bash -c runs it (as
 * wg-quick does; /bin/sh -c where there is no bash).
 * Returns its status as run_command does. */
int run_hook(const char *hook, const char *ifname);

/* s as one shell word, to paste into advice ("run chmod 600 FILE"): as it
 * is when it holds only characters no shell treats specially, else in
 * single quotes (a ' inside becomes '\''). To free. */
char *run_shell_quote(const char *s);

/* The full path of name through PATH, if it is there and executable. */
bool run_find_program(const char *name, char *path, size_t len);

#endif
