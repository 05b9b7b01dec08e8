/* Our "get=3" request: the events after a cursor (uapi.h, events.h).
 *
 *   get=3
 *   roam_events_after=N
 *   <blank line>
 *
 * answered with one "roam_event=JSON" line per event after N, then
 * "roam_events_last=N" and "errno=0". The cursor is the client's: roamd
 * keeps nothing per client, so any number of followers cost nothing
 * between their polls. wireguard-go closes the connection on the op, as
 * on get=2, which tells roam that only roamd has events. */
#include <errno.h>
#include <string.h>

#include "uapi.h"
#include "uapi_contract.h"

/* Plain decimal digits, at most 19 of them (fits in 64 bits). */
static bool parse_seq(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

void uapi_get_events(const struct uapi_host *host, const char *body, size_t len, struct uapi_buf *out)
{
	static const char key[] = ROAM_KEY_EVENTS_AFTER "=";
	uint64_t after = 0;
	size_t at = 0;

	while (at < len) {
		const char *line = body + at, *nl = memchr(line, '\n', len - at);
		size_t n = nl ? (size_t)(nl - line) : len - at;
		at += n + 1;
		if (n < sizeof(key) - 1 || memcmp(line, key, sizeof(key) - 1) ||
		    !parse_seq(line + sizeof(key) - 1, n - (sizeof(key) - 1), &after)) {
			uapi_buf_printf(out, "errno=%d\n\n", -EINVAL);
			return;
		}
	}
	if (!host->put_events) {
		uapi_buf_printf(out, "errno=%d\n\n", -ENOTSUP);
		return;
	}
	host->put_events(host->ctx, after, out);
	uapi_buf_printf(out, "errno=0\n\n");
}
