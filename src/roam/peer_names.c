/* Friendly names from "# friendly_name = ..." comments: see peer_names.h. */
#include "peer_names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* [s, e) without the blanks at either end. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

static bool word_is(const char *s, const char *e, const char *word)
{
	return (size_t)(e - s) == strlen(word) && !strncasecmp(s, word, (size_t)(e - s));
}

/* One [Peer] section's findings. */
struct section {
	bool is_peer, has_key;
	uint8_t key[KEY_LEN];
	char *name;
};

static void section_close(struct section *sec, struct peer_names *out)
{
	if (sec->is_peer && sec->has_key && sec->name) {
		struct peer_name *p = ARRAY_PUSH(out->v, out->n);
		memcpy(p->public_key, sec->key, KEY_LEN);
		p->name = sec->name;
		sec->name = NULL;
	}
	free(sec->name);
	*sec = (struct section){ 0 };
}

/* "# key = value": the value when key is friendly_name. */
static void comment_line(const char *s, const char *e, struct section *sec)
{
	const char *eq = memchr(s, '=', (size_t)(e - s)), *k = s + 1, *ke = eq, *v, *ve = e;
	char *name;

	if (!eq)
		return;
	trim(&k, &ke);
	if (!word_is(k, ke, "friendly_name"))
		return;
	v = eq + 1;
	trim(&v, &ve);
	name = xrealloc(NULL, (size_t)(ve - v) + 1);
	memcpy(name, v, (size_t)(ve - v));
	name[ve - v] = '\0';
	free(sec->name);
	sec->name = name;
}

/* "PublicKey = KEY [# comment]" */
static void key_line(const char *s, const char *e, struct section *sec)
{
	const char *eq = memchr(s, '=', (size_t)(e - s)), *k = s, *ke = eq, *v, *ve, *hash;
	char b64[KEY_B64_LEN + 1];

	if (!eq)
		return;
	trim(&k, &ke);
	if (!word_is(k, ke, "PublicKey"))
		return;
	v = eq + 1;
	hash = memchr(v, '#', (size_t)(e - v));
	ve = hash ? hash : e;
	trim(&v, &ve);
	if ((size_t)(ve - v) != KEY_B64_LEN)
		return;
	memcpy(b64, v, KEY_B64_LEN);
	b64[KEY_B64_LEN] = '\0';
	sec->has_key = key_from_base64(sec->key, b64);
}

static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct peer_name *)a)->public_key, ((const struct peer_name *)b)->public_key, KEY_LEN);
}

void peer_names_parse(const char *text, size_t len, struct peer_names *out)
{
	const char *end = text + len, *s, *e;
	struct section sec = { 0 };

	*out = (struct peer_names){ 0 };
	for (s = text; s < end; s = e + 1) {
		e = memchr(s, '\n', (size_t)(end - s));
		if (!e)
			e = end;
		const char *ls = s, *le = e;
		trim(&ls, &le);
		if (ls == le)
			continue;
		if (*ls == '[') {
			section_close(&sec, out);
			sec.is_peer = word_is(ls, le, "[Peer]");
		} else if (*ls == '#') {
			comment_line(ls, le, &sec);
		} else {
			key_line(ls, le, &sec);
		}
	}
	section_close(&sec, out);
	if (out->n)
		qsort(out->v, out->n, sizeof(out->v[0]), by_key);
}

int peer_names_read(const char *path, struct peer_names *out)
{
	char *text = NULL;
	size_t len = 0, got;
	char buf[8192];
	FILE *f = fopen(path, "re");
	FILE *mem;

	*out = (struct peer_names){ 0 };
	if (!f)
		return -errno;
	mem = open_memstream(&text, &len);
	if (!mem)
		out_of_memory();
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, got, mem);
	int failed = ferror(f) ? -EIO : 0;
	fclose(f);
	fclose(mem);
	if (!failed)
		peer_names_parse(text, len, out);
	free(text);
	return failed;
}

const char *peer_names_find(const struct peer_names *names, const uint8_t key[KEY_LEN])
{
	struct peer_name want;
	const struct peer_name *hit;

	if (!names || !names->n)
		return NULL;
	memcpy(want.public_key, key, KEY_LEN);
	hit = bsearch(&want, names->v, names->n, sizeof(names->v[0]), by_key);
	return hit ? hit->name : NULL;
}

void peer_names_free(struct peer_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i].name);
	free(names->v);
	*names = (struct peer_names){ 0 };
}
