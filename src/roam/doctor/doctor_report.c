/* roam doctor's report: findings as they are added, and the two ways of
 * printing them (text for people, JSON as docs/doctor-json.md describes). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "json.h"

const char *doctor_status_name(enum doctor_status status)
{
	switch (status) {
	case DOCTOR_PASS:
		return "PASS";
	case DOCTOR_WARN:
		return "WARN";
	case DOCTOR_FAIL:
		return "FAIL";
	case DOCTOR_SKIP:
		break;
	}
	return "SKIP";
}

struct doctor_finding *doctor_add(struct doctor_report *r, const char *check, const uint8_t *peer_key)
{
	struct doctor_finding *f = ARRAY_PUSH(r->v, r->n);

	f->check = check;
	f->status = DOCTOR_PASS;
	if (peer_key)
		key_to_base64(f->peer, peer_key);
	return f;
}

static void vappend(char *buf, const char *fmt, va_list ap)
{
	size_t used = strlen(buf);

	if (used < DOCTOR_TEXT_MAX - 1)
		vsnprintf(buf + used, DOCTOR_TEXT_MAX - used, fmt, ap);
}

void doctor_evidence(struct doctor_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(f->evidence, fmt, ap);
	va_end(ap);
}

void doctor_decision(struct doctor_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(f->decision, fmt, ap);
	va_end(ap);
}

void doctor_figure(struct doctor_finding *f, const char *name, double value)
{
	if (f->n_figures < DOCTOR_FIGURES_MAX)
		f->figures[f->n_figures++] = (struct doctor_figure){ name, value };
}

size_t doctor_count(const struct doctor_report *r, enum doctor_status status)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].status == status;
	return n;
}

void doctor_report_free(struct doctor_report *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* ---- output ------------------------------------------------------------ */

void doctor_print_text(FILE *out, const struct doctor_report *r)
{
	fprintf(out, "interface %s", r->ifname);
	if (r->daemon[0])
		fprintf(out, " (%s, pid %d)", r->daemon, r->pid);
	fputc('\n', out);
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->v[i];

		fprintf(out, "  %s  %-10s  ", doctor_status_name(f->status), f->check);
		if (f->subject[0])
			fprintf(out, "%s: ", f->subject);
		else if (f->peer[0])
			fprintf(out, "peer %s: ", f->peer);
		fprintf(out, "%s\n", f->evidence);
		if (f->decision[0])
			fprintf(out, "%*s-> %s\n", 20, "", f->decision);
	}
	fprintf(out, "summary: %zu passed, %zu warnings, %zu failed, %zu skipped\n", doctor_count(r, DOCTOR_PASS),
		doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL), doctor_count(r, DOCTOR_SKIP));
}

void doctor_print_json(FILE *out, const struct doctor_report *reports, size_t n)
{
	size_t failed = 0, warnings = 0;

	fputs("{\"version\":1,\"interfaces\":[", out);
	for (size_t k = 0; k < n; k++) {
		const struct doctor_report *r = &reports[k];

		failed += doctor_count(r, DOCTOR_FAIL);
		warnings += doctor_count(r, DOCTOR_WARN);
		fputs(k ? ",{" : "{", out);
		fputs("\"interface\":", out);
		json_string(out, r->ifname);
		fputs(",\"daemon\":", out);
		json_string_or_null(out, r->daemon);
		fprintf(out, ",\"pid\":%d,\"checks\":[", r->pid);
		for (size_t i = 0; i < r->n; i++) {
			const struct doctor_finding *f = &r->v[i];

			fputs(i ? ",{\"check\":" : "{\"check\":", out);
			json_string(out, f->check);
			fputs(",\"status\":", out);
			json_string(out, doctor_status_name(f->status));
			fputs(",\"peer\":", out);
			json_string_or_null(out, f->peer);
			fputs(",\"subject\":", out);
			json_string_or_null(out, f->subject);
			fputs(",\"evidence\":", out);
			json_string(out, f->evidence);
			fputs(",\"decision\":", out);
			json_string_or_null(out, f->decision);
			fputs(",\"figures\":{", out);
			for (size_t j = 0; j < f->n_figures; j++) {
				json_string(out, f->figures[j].name);
				fprintf(out, ":%.17g%s", f->figures[j].value, j + 1 < f->n_figures ? "," : "");
			}
			fputs("},\"cause\":", out);
			json_string_or_null(out, f->cause ? f->cause : "");
			fputs(",\"probe_target_source\":", out);
			json_string_or_null(out, f->probe_target_source ? f->probe_target_source : "");
			fputs("}", out);
		}
		fprintf(out, "],\"passed\":%zu,\"warnings\":%zu,\"failed\":%zu,\"skipped\":%zu}",
			doctor_count(r, DOCTOR_PASS), doctor_count(r, DOCTOR_WARN), doctor_count(r, DOCTOR_FAIL),
			doctor_count(r, DOCTOR_SKIP));
	}
	fprintf(out, "],\"warnings\":%zu,\"failed\":%zu}\n", warnings, failed);
}

