/* Findings about a configuration file, collected rather than thrown: the
 * config parser and `roam audit` append every problem with its line, so
 * all of them can be shown at once. */
#ifndef ROAM_DIAG_H
#define ROAM_DIAG_H

#include <stdarg.h>
#include <stddef.h>

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_INFO };

/* One finding: FILE:LINE: severity: message (check). check is a stable id
 * (a string literal) that scripts and `roam audit --json` users match on. */
struct diag {
	char *file;
	unsigned line;		/* 0: about the file as a whole */
	enum diag_severity severity;
	const char *check;
	char *message;
	size_t seq;		/* order of diag_add, so sorting by line is stable */
};

struct diag_list {
	struct diag *v;
	size_t n;
};

void diag_add(struct diag_list *list, const char *file, unsigned line, enum diag_severity severity,
	      const char *check, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The same with a va_list, for reporters that add their own context. */
void diag_vadd(struct diag_list *list, const char *file, unsigned line, enum diag_severity severity,
	       const char *check, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
size_t diag_count(const struct diag_list *list, enum diag_severity severity);
/* Stable sort by line; findings on one line keep the order they were added. */
void diag_sort(struct diag_list *list);
const char *diag_severity_name(enum diag_severity severity);
void diag_list_free(struct diag_list *list);

#endif
