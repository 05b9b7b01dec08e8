/* Running other programs for roam up and down. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"

void run_say(const char *fmt, ...)
{
	va_list ap;

	fputs("[#] ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void write_input(int fd, const char *input)
{
	size_t len = strlen(input);
	ssize_t n;

	while (len) {
		n = write(fd, input, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;		/* it stopped reading: its status says why */
		input += n;
		len -= (size_t)n;
	}
}

int run_command(char *const argv[], const char *input)
{
	int p[2] = { -1, -1 }, status, err;
	pid_t pid;
	void (*old_pipe)(int);

	if (input && pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* What we printed so far must come before what the child prints. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		if (input) {
			close(p[0]);
			close(p[1]);
		}
		return err;
	}
	if (pid == 0) {
		if (input && dup2(p[0], STDIN_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "roam: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (input) {
		close(p[0]);
		/* A child that exits without reading must not kill us. */
		old_pipe = signal(SIGPIPE, SIG_IGN);
		write_input(p[1], input);
		signal(SIGPIPE, old_pipe);
		close(p[1]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int run_capture(char *const argv[], char **out, size_t *len)
{
	enum { CAPTURE_MAX = 4 << 20 };
	size_t cap = 4096, n = 0;
	char *buf = xrealloc(NULL, cap);
	int p[2], status, err;
	pid_t pid;
	ssize_t r;

	*out = NULL;
	*len = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		free(buf);
		return err;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (dup2(p[1], STDOUT_FILENO) < 0 || (null >= 0 && dup2(null, STDERR_FILENO) < 0) ||
		    (null >= 0 && dup2(null, STDIN_FILENO) < 0))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		if (n + 1 == cap && cap < CAPTURE_MAX)
			buf = xrealloc(buf, cap *= 2);
		r = read(p[0], buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n + 1 == cap && cap >= CAPTURE_MAX)
			break;	/* enough: the rest is drained by closing */
	}
	close(p[0]);
	buf[n] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return -errno;
		}
	*out = buf;
	*len = n;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int run_hook(const char *hook, const char *ifname)
{
	size_t n = 0, len = strlen(ifname);
	char *cmd, *out;
	const char *s;
	int ret;

	for (s = hook; (s = strstr(s, "%i")) != NULL; s += 2)
		n++;
	out = cmd = xrealloc(NULL, strlen(hook) + n * len + 1);
	for (s = hook; *s;) {
		if (s[0] == '%' && s[1] == 'i') {
			memcpy(out, ifname, len);
			out += len;
			s += 2;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
	run_say("%s", cmd);
	/* In bash, as wg-quick evals them: hooks written for wg-quick may use
	 * [[ ]], arrays or $'...', which /bin/sh (dash) refuses. */
	char bash[256];
	const char *shell = run_find_program("bash", bash, sizeof(bash)) ? bash : "/bin/sh";
	ret = run_command((char *const[]){ (char *)shell, "-c", cmd, NULL }, NULL);
	free(cmd);
	return ret;
}

char *run_shell_quote(const char *s)
{
	size_t n = 0;
	bool plain = *s != '\0';
	char *out, *o;

	for (const char *c = s; *c; c++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-", *c))
			plain = false;
		n += *c == '\'' ? 4 : 1;
	}
	if (plain)
		return xstrdup(s);
	o = out = xrealloc(NULL, n + 3);
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *s;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

bool run_find_program(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH"), *dir, *end;

	if (!env)
		env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (dir = env; *dir; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		if (end == dir)
			continue;
		if ((size_t)snprintf(path, len, "%.*s/%s", (int)(end - dir), dir, name) < len &&
		    access(path, X_OK) == 0)
			return true;
	}
	return false;
}
