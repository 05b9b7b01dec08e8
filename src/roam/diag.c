/* The findings list of diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"

void diag_vadd(struct diag_list *list, const char *file, unsigned line, enum diag_severity severity,
	       const char *check, const char *fmt, va_list ap)
{
	struct diag *d = ARRAY_PUSH(list->v, list->n);

	d->file = xstrdup(file);
	d->line = line;
	d->severity = severity;
	d->check = check;
	d->seq = list->n - 1;
	if (vasprintf(&d->message, fmt, ap) < 0)
		out_of_memory();
}

void diag_add(struct diag_list *list, const char *file, unsigned line, enum diag_severity severity,
	      const char *check, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(list, file, line, severity, check, fmt, ap);
	va_end(ap);
}

size_t diag_count(const struct diag_list *list, enum diag_severity severity)
{
	size_t i, n = 0;

	for (i = 0; i < list->n; i++)
		n += list->v[i].severity == severity;
	return n;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diag_sort(struct diag_list *list)
{
	if (list->n)
		qsort(list->v, list->n, sizeof(*list->v), diag_cmp);
}

const char *diag_severity_name(enum diag_severity severity)
{
	switch (severity) {
	case DIAG_ERROR:
		return "error";
	case DIAG_WARNING:
		return "warning";
	case DIAG_INFO:
		break;
	}
	return "info";
}

void diag_list_free(struct diag_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		free(list->v[i].file);
		free(list->v[i].message);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}
