/* roam show's pure parts (src/roam/show.c): wg's duration and byte units,
 * the handshake verdict at its edges and from either clock, the text of a
 * parsed get=2 reply line by line, what a get=1 reply (wireguard-go) shows,
 * and the JSON document's keys and nulls; JSON string escaping.
 *
 * show.c is included for its static formatting helpers. */
#include "../../src/roam/show.c"

#include "roam_reply_sample.h"
#include "test.h"

/* The sample's first handshake was at 1700000000.5; "now" is 65 s later,
 * matching its roam_last_handshake_age_ms. */
#define NOW_MS UINT64_C(1700000065500)

/* The memstream's pointer lives in the caller, not in a frame that ends
 * while the stream could still write to it. */
struct output {
	char *text;
	size_t len;
};

static char *render(void (*fn)(FILE *, const struct uapi_device *, uint64_t), const struct uapi_device *dev,
		    uint64_t now_ms, struct output *out)
{
	FILE *f = open_memstream(&out->text, &out->len);

	fn(f, dev, now_ms);
	fclose(f);
	return out->text;
}

static void json_one(FILE *f, const struct uapi_device *dev, uint64_t now_ms)
{
	show_json(f, dev, 1, now_ms);
}

static bool sample(struct uapi_device *dev)
{
	char err[256];
	return uapi_parse_get(sample_get2, strlen(sample_get2), dev, err, sizeof(err)) == 0;
}

static void test_durations(void)
{
	static const struct {
		uint64_t s;
		const char *want;
	} cases[] = {
		{ 0, "0 seconds" },
		{ 1, "1 second" },
		{ 59, "59 seconds" },
		{ 60, "1 minute" },
		{ 61, "1 minute, 1 second" },
		{ 3600 + 120, "1 hour, 2 minutes" },
		{ 86400 + 3600 + 60 + 1, "1 day, 1 hour, 1 minute, 1 second" },
		{ 2 * 365 * 86400 + 3, "2 years, 3 seconds" },
	};
	char buf[96];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		format_duration(buf, sizeof(buf), cases[i].s);
		if (!CHECK(!strcmp(buf, cases[i].want)))
			fprintf(stderr, "    %llu: '%s'\n", (unsigned long long)cases[i].s, buf);
	}
	/* A short buffer is cut, never overrun. */
	format_duration(buf, 8, 86400 + 3600 + 60 + 1);
	CHECK(strlen(buf) == 7);
	format_ago(buf, sizeof(buf), 999);
	CHECK(!strcmp(buf, "just now"));
	format_ago(buf, sizeof(buf), 125000);
	CHECK(!strcmp(buf, "2 minutes, 5 seconds ago"));
}

static void test_bytes(void)
{
	static const struct {
		uint64_t n;
		const char *want;
	} cases[] = {
		{ 0, "0 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.00 KiB" },
		{ 1536, "1.50 KiB" },
		{ 3 << 20, "3.00 MiB" },
		{ UINT64_C(5) << 30, "5.00 GiB" },
		{ UINT64_C(1) << 50, "1024.00 TiB" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		format_bytes(buf, sizeof(buf), cases[i].n);
		if (!CHECK(!strcmp(buf, cases[i].want)))
			fprintf(stderr, "    %llu: '%s'\n", (unsigned long long)cases[i].n, buf);
	}
}

static void test_verdicts(void)
{
	struct uapi_peer p = { 0 };
	uint64_t age = 0;

	CHECK(peer_handshake_verdict(&p, NOW_MS, &age) == HANDSHAKE_NEVER);
	/* From the wall clock (wireguard-go): 3 minutes is the edge. */
	p.last_handshake_sec = 1700000000;
	p.last_handshake_nsec = 0;
	CHECK(peer_handshake_verdict(&p, UINT64_C(1700000000000) + 179999, &age) == HANDSHAKE_FRESH && age == 179999);
	CHECK(peer_handshake_verdict(&p, UINT64_C(1700000000000) + 180000, &age) == HANDSHAKE_STALE && age == 180000);
	/* A clock behind the handshake is an age of 0, not a huge one. */
	CHECK(peer_handshake_verdict(&p, UINT64_C(1699999999000), &age) == HANDSHAKE_FRESH && age == 0);
	/* roamd's monotonic age wins over the wall clock. */
	p.has_last_handshake_age = true;
	p.last_handshake_age_ms = 200000;
	CHECK(peer_handshake_verdict(&p, UINT64_C(1700000000000), &age) == HANDSHAKE_STALE && age == 200000);
	CHECK(!strcmp(handshake_verdict_name(HANDSHAKE_FRESH), "fresh") &&
	      !strcmp(handshake_verdict_name(HANDSHAKE_STALE), "stale") &&
	      !strcmp(handshake_verdict_name(HANDSHAKE_NEVER), "never"));
}

static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *s = text; (s = strstr(s, line)) != NULL; s++)
		if ((s == text || s[-1] == '\n') && s[len] == '\n')
			return true;
	return false;
}

static void test_text(void)
{
	static const char *const lines[] = {
		"interface: wg0",
		"  public key: " SAMPLE_PUBLIC_KEY,
		"  private key: (hidden)",
		"  listening port: 51820",
		"  fwmark: 0xca6c",
		"  under load: no",
		"  drops: bad_mac1 3, no_route 1",
		"peer: sbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbE=",
		"  preshared key: (hidden)",
		"  endpoint: 192.0.2.12:51820",
		"  endpoint candidates: 192.0.2.2:51820, 192.0.2.12:51820 (in use)",
		"  name: vpn.roam.test:51820 -> 192.0.2.2:51820, [fd00:1::2]:51820 (TTL 30 s, next lookup in 12 s)",
		"  name: backup.roam.test:51820 -> (none yet) (no answer yet, resolving)",
		"  allowed ips: 198.18.0.2/32, fd00:2::2/128",
		"  latest handshake: 1 minute, 5 seconds ago",
		"  transfer: 3.00 MiB received, 1.50 KiB sent",
		"  persistent keepalive: every 25 seconds",
		"  handshake: fresh (1 minute, 5 seconds ago)",
		"  last receive: 1 second ago",
		"  packets: 40 received, 42 sent",
		"  session: established",
		"  liveness: alive",
		"  drops: replay 2",
		"  endpoint changes: 1",
		"  nat: 1 rebind; a mapping was lost after 30 seconds idle; a mapping survived 10 seconds idle",
		"  suggested keepalive: 15 seconds (now 25: too long for this path)",
		"  path MTU: 1292 (from probe), inner packets up to 1232",
		"  path probe: smaller, 4 s ago (10 probes sent, 7 answered)",
		"  history:",
		"    2023-11-14 22:11:40 (2 minutes, 45 seconds ago)  handshake_complete  (none) -> 192.0.2.2:51820",
		"    2023-11-14 22:12:15 (2 minutes, 10 seconds ago)  endpoint_changed  192.0.2.2:51820 -> 192.0.2.12:51820 after 30 seconds idle",
		"peer: wsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsI=",
		"  endpoint: [fd00:1::2]:51821",
		"  allowed ips: (none)",
		"  handshake: never",
		"  last receive: never",
		"  session: none (3 handshake attempts since the last success)",
		"  liveness: dead",
		"  drops: none",
		"  nat: no evidence yet (it comes from the peer going quiet and coming back)",
		"  history: none yet",
	};
	struct uapi_device dev;
	struct output out;
	char *text;

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(sample(&dev));
	strcpy(dev.name, "wg0");
	text = render(show_text, &dev, NOW_MS, &out);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!CHECK(has_line(text, lines[i])))
			fprintf(stderr, "    missing: '%s'\n", lines[i]);
	/* wg's order: the peer with the latest handshake first. */
	CHECK(strstr(text, "peer: sbGx") < strstr(text, "peer: wsLC"));
	CHECK(!strstr(text, "details: none"));
	if (test_case_failures)
		fprintf(stderr, "%s", text);
	free(text);
	uapi_device_free(&dev);
}

/* A get=1 reply: the standard part and the verdict, nothing of roamd's. */
static void test_text_wireguard_go(void)
{
	static const char reply[] = "listen_port=51820\n"
				    "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
				    "last_handshake_time_sec=1699999800\nlast_handshake_time_nsec=0\n"
				    "tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=0\nerrno=0\n\n";
	struct uapi_device dev;
	struct output out;
	char err[256], *text;

	CHECK(uapi_parse_get(reply, strlen(reply), &dev, err, sizeof(err)) == 0);
	text = render(show_text, &dev, NOW_MS, &out);
	CHECK(has_line(text, "  details: none (the daemon refused get=2: not roamd)"));
	CHECK(has_line(text, "  handshake: stale (4 minutes, 25 seconds ago)"));
	CHECK(has_line(text, "  transfer: 20 B received, 10 B sent"));
	CHECK(!strstr(text, "packets:") && !strstr(text, "history") && !strstr(text, "public key:"));
	free(text);
	uapi_device_free(&dev);
}

static void test_json(void)
{
	static const char *const keys[] = {
		"\"version\": 1",
		"\"name\": \"wg\\\"0\\\\\"",
		"\"public_key\": \"" SAMPLE_PUBLIC_KEY "\"",
		"\"listen_port\": 51820",
		"\"fwmark\": 51820",
		"\"extended\": true",
		"\"under_load\": false",
		"\"drops\": {\"bad_mac1\": 3, \"no_route\": 1}",
		"\"preshared_key\": true",
		"\"endpoint\": \"192.0.2.12:51820\"",
		"\"allowed_ips\": [\"198.18.0.2/32\", \"fd00:2::2/128\"]",
		"\"latest_handshake\": 1700000000",
		"\"handshake_age_ms\": 65000",
		"\"handshake\": \"fresh\"",
		"\"rx_bytes\": 3145728",
		"\"persistent_keepalive\": 25",
		"\"rx_packets\": 40",
		"\"has_session\": true",
		"\"last_receive_age_ms\": 1500",
		"\"drops\": {\"replay\": 2}",
		"\"liveness\": \"alive\"",
		"\"endpoint_candidates\": [\"192.0.2.2:51820\", \"192.0.2.12:51820\"], \"endpoint_candidate_index\": 1",
		"\"names\": [{\"name\": \"vpn.roam.test:51820\", \"addresses\": [\"192.0.2.2:51820\", \"[fd00:1::2]:51820\"], "
		"\"ttl_s\": 30, \"next_lookup_s\": 12, \"status\": \"ok\"}, {\"name\": \"backup.roam.test:51820\", "
		"\"addresses\": [], \"ttl_s\": null, \"next_lookup_s\": null, \"status\": \"resolving\"}]",
		"\"nat\": {\"rebinds\": 1, \"lost_after_idle_ms\": 30000, \"kept_after_idle_ms\": 10000, \"suggested_keepalive\": 15}",
		"\"path_mtu\": {\"origin\": \"probe\", \"mtu\": 1292, \"inner_mtu\": 1232, \"probe\": {\"result\": \"smaller\", "
		"\"age_ms\": 4000, \"sent\": 10, \"answered\": 7}}",
		"{\"kind\": \"endpoint_changed\", \"time\": \"2023-11-14T22:12:15.250000000Z\", \"age_ms\": 130000, "
		"\"old_endpoint\": \"192.0.2.2:51820\", \"new_endpoint\": \"192.0.2.12:51820\", \"idle_ms\": 30000}",
		"\"old_endpoint\": null",
		/* the peer that never made it */
		"\"latest_handshake\": null",
		"\"handshake_age_ms\": null",
		"\"handshake\": \"never\"",
		"\"last_receive_age_ms\": null",
		"\"drops\": {}",
		"\"endpoint_candidates\": [], \"endpoint_candidate_index\": null",
		"\"names\": []",
		"\"liveness\": \"dead\"",
		"\"nat\": {\"rebinds\": 0, \"lost_after_idle_ms\": null, \"kept_after_idle_ms\": null, \"suggested_keepalive\": null}",
		"\"history\": []",
	};
	struct uapi_device dev;
	struct output out;
	char *text;
	int depth = 0;

	CHECK(sample(&dev));
	strcpy(dev.name, "wg\"0\\");
	text = render(json_one, &dev, NOW_MS, &out);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!CHECK(strstr(text, keys[i]) != NULL))
			fprintf(stderr, "    missing: %s\n", keys[i]);
	/* Balanced, and closed at the very end (strings hold no brackets
	 * here but the escaped name, which has none either). */
	for (const char *s = text; *s; s++) {
		depth += *s == '{' || *s == '[';
		depth -= *s == '}' || *s == ']';
		CHECK(depth >= 0);
	}
	CHECK(depth == 0 && !strcmp(text + strlen(text) - 2, "}\n"));
	free(text);
	uapi_device_free(&dev);

	/* No roamd: every roam key is there, as null. */
	static const char get1[] = "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nerrno=0\n\n";
	char err[256];
	CHECK(uapi_parse_get(get1, strlen(get1), &dev, err, sizeof(err)) == 0);
	text = render(json_one, &dev, NOW_MS, &out);
	CHECK(strstr(text, "\"extended\": false") && strstr(text, "\"under_load\": null") &&
	      strstr(text, "\"rx_packets\": null") && strstr(text, "\"nat\": null") && strstr(text, "\"history\": null") &&
	      strstr(text, "\"endpoint_candidates\": null, \"endpoint_candidate_index\": null") &&
	      strstr(text, "\"liveness\": null") &&
	      strstr(text, "\"public_key\": null") && strstr(text, "\"endpoint\": null"));
	free(text);
	uapi_device_free(&dev);

	/* No interfaces at all is still the document. */
	FILE *f = open_memstream(&out.text, &out.len);
	show_json(f, NULL, 0, NOW_MS);
	fclose(f);
	text = out.text;
	CHECK(!strcmp(text, "{\n  \"version\": 1,\n  \"interfaces\": []\n}\n"));
	free(text);
}

static void test_json_strings(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\", "\"q\\\"b\\\\\"" },
		{ "tab\tnl\n", "\"tab\\u0009nl\\u000a\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
		{ "bad\xff\xc3", "\"bad\\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* a surrogate */
	};
	struct output out;
	FILE *f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = open_memstream(&out.text, &out.len);
		json_string(f, cases[i].in);
		fclose(f);
		if (!CHECK(!strcmp(out.text, cases[i].want)))
			fprintf(stderr, "    got %s\n", out.text);
		free(out.text);
	}
}

/* The liveness rule (show.h), case by case. */
static void test_liveness(void)
{
	struct uapi_peer p;
	memset(&p, 0, sizeof(p));
	p.has_last_receive_age = true;
	p.last_receive_age_ms = 1000;
	p.handshake_attempts = 5;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_ALIVE); /* heard: whatever else */
	memset(&p, 0, sizeof(p));
	p.has_last_handshake_age = true;
	p.last_handshake_age_ms = 60000;
	p.last_handshake_sec = NOW_MS / 1000 - 60;
	p.has_session = true;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_ALIVE); /* quiet, session fresh */
	p.handshake_attempts = 1;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_STALE); /* one attempt in flight */
	p.handshake_attempts = 2;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_DEAD);
	p.handshake_attempts = 0;
	p.has_session = false;
	p.last_handshake_age_ms = 600000;
	p.last_handshake_sec = NOW_MS / 1000 - 600;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_STALE); /* idle */
	memset(&p, 0, sizeof(p));
	p.handshake_attempts = 1;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_STALE); /* the first attempt in flight */
	p.handshake_attempts = 2;
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_DEAD); /* never answered */
	memset(&p, 0, sizeof(p));
	CHECK(peer_liveness_of(&p, NOW_MS) == LIVENESS_STALE); /* never tried */
}

int main(void)
{
	RUN(test_durations);
	RUN(test_bytes);
	RUN(test_verdicts);
	RUN(test_text);
	RUN(test_text_wireguard_go);
	RUN(test_json);
	RUN(test_liveness);
	RUN(test_json_strings);
	return test_finish("test_roam_show");
}
