/* roam metrics' exposition (src/roam/metrics.c): label escaping; a parsed
 * get=2 reply rendered in both spellings and checked line by line against
 * the format rules (every sample right after its family's header, named
 * as the family says, counters ending in _total, # UNIT a suffix of the
 * family's name in OpenMetrics, "# EOF" last); the figures themselves;
 * and what is left out against wireguard-go. promtool and an OpenMetrics
 * parser check real output in tests/integration/test_roam_cli.sh.
 */
#include <inttypes.h>

#include "metrics.h"
#include "outbuf.h"
#include "roam_reply_sample.h"
#include "test.h"

#define NOW_MS UINT64_C(1700000065500)
#define PEER1 "public_key=\"sbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbE=\""
#define PEER2 "public_key=\"wsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsI=\""

struct output {
	char *text;
	size_t len;
};

static char *expose(const struct uapi_device *devs, size_t n, bool openmetrics, struct output *out)
{
	FILE *f = open_memstream(&out->text, &out->len);

	metrics_write(f, devs, n, NOW_MS, &(struct metrics_options){ .openmetrics = openmetrics });
	fclose(f);
	return out->text;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !memcmp(s + len - n, suffix, n);
}

/* The format rules, line by line; returns false at the first break. */
static bool well_formed(const char *text, bool openmetrics)
{
	char family[128] = "", type[16] = "", seen[64][128];
	size_t n_seen = 0, len;
	const char *line = text, *end;
	bool header_done = false;

	for (; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			return false;	/* every line ends with a newline */
		len = (size_t)(end - line);
		if (!strncmp(line, "# EOF", 5))
			return end[1] == '\0' && len == 5;
		if (!strncmp(line, "# TYPE ", 7)) {
			if (sscanf(line + 7, "%127s %15s", family, type) != 2)
				return false;
			for (size_t i = 0; i < n_seen; i++)
				if (!strcmp(seen[i], family))
					return false;	/* a family in two places */
			snprintf(seen[n_seen++ % 64], 128, "%s", family);
			if (!strcmp(type, "counter") && ends_with(family, strlen(family), "_total") == openmetrics)
				return false;
			header_done = false;
			continue;
		}
		if (!strncmp(line, "# UNIT ", 7)) {
			char name[128], unit[32], suffix[40];
			if (sscanf(line + 7, "%127s %31s", name, unit) != 2 || strcmp(name, family))
				return false;
			snprintf(suffix, sizeof(suffix), "_%s", unit);
			if (openmetrics && !ends_with(name, strlen(name), suffix))
				return false;
			continue;
		}
		if (!strncmp(line, "# HELP ", 7)) {
			if (strncmp(line + 7, family, strlen(family)) || line[7 + strlen(family)] != ' ')
				return false;
			header_done = true;
			continue;
		}
		/* A sample: NAME{LABELS} VALUE */
		const char *brace = memchr(line, '{', len), *close = memchr(line, '}', len);
		char want[140];
		snprintf(want, sizeof(want), "%s%s", family, openmetrics && !strcmp(type, "counter") ? "_total" : "");
		if (!header_done || !brace || !close || close < brace || (size_t)(brace - line) != strlen(want) ||
		    strncmp(line, want, strlen(want)) || close[1] != ' ' ||
		    !(strchr("0123456789", close[2]) || !strncmp(close + 2, "NaN\n", 4)))
			return false;
	}
	return false;	/* no # EOF */
}

static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *s = text; (s = strstr(s, line)) != NULL; s++)
		if ((s == text || s[-1] == '\n') && s[len] == '\n')
			return true;
	return false;
}

static void test_label_escaping(void)
{
	struct output out;
	FILE *f = open_memstream(&out.text, &out.len);

	metrics_label_value(f, "a\\b\"c\nd");
	fclose(f);
	CHECK(!strcmp(out.text, "a\\\\b\\\"c\\nd"));
	free(out.text);
}

static void test_sample_exposition(void)
{
	static const char *const lines[] = {
		"roam_interface_listen_port{interface=\"wg\\\"0\"} 51820",
		"roam_interface_peers{interface=\"wg\\\"0\"} 2",
		"roam_interface_extended{interface=\"wg\\\"0\"} 1",
		"roam_interface_under_load{interface=\"wg\\\"0\"} 0",
		"roam_interface_dropped_packets_total{interface=\"wg\\\"0\",reason=\"bad_mac1\"} 3",
		"roam_interface_dropped_packets_total{interface=\"wg\\\"0\",reason=\"no_route\"} 1",
		"roam_peer_received_bytes_total{interface=\"wg\\\"0\"," PEER1 "} 3145728",
		"roam_peer_sent_bytes_total{interface=\"wg\\\"0\"," PEER1 "} 1536",
		"roam_peer_received_packets_total{interface=\"wg\\\"0\"," PEER1 "} 40",
		"roam_peer_last_handshake_timestamp_seconds{interface=\"wg\\\"0\"," PEER1 "} 1700000000",
		"roam_peer_last_handshake_timestamp_seconds{interface=\"wg\\\"0\"," PEER2 "} 0",
		"roam_peer_handshake_age_seconds{interface=\"wg\\\"0\"," PEER1 "} 65.000",
		"roam_peer_handshake_fresh{interface=\"wg\\\"0\"," PEER1 "} 1",
		"roam_peer_handshake_fresh{interface=\"wg\\\"0\"," PEER2 "} 0",
		"roam_peer_session_established{interface=\"wg\\\"0\"," PEER2 "} 0",
		"roam_peer_handshake_attempts{interface=\"wg\\\"0\"," PEER2 "} 3",
		"roam_peer_last_receive_age_seconds{interface=\"wg\\\"0\"," PEER1 "} 1.500",
		"roam_peer_persistent_keepalive_seconds{interface=\"wg\\\"0\"," PEER1 "} 25",
		"roam_peer_dropped_packets_total{interface=\"wg\\\"0\"," PEER1 ",reason=\"replay\"} 2",
		"roam_peer_endpoint_changes_total{interface=\"wg\\\"0\"," PEER1 "} 1",
		"roam_peer_nat_rebinds_total{interface=\"wg\\\"0\"," PEER1 "} 1",
		"roam_peer_nat_mapping_lost_idle_seconds{interface=\"wg\\\"0\"," PEER1 "} 30.000",
		"roam_peer_nat_mapping_kept_idle_seconds{interface=\"wg\\\"0\"," PEER1 "} 10.000",
		"roam_peer_suggested_keepalive_seconds{interface=\"wg\\\"0\"," PEER1 "} 15",
		"# TYPE roam_peer_received_bytes_total counter",
		"# UNIT roam_peer_received_bytes_total bytes",
		"# TYPE roam_peer_handshake_age_seconds gauge",
		"# UNIT roam_peer_handshake_age_seconds seconds",
	};
	struct uapi_device dev;
	struct output out;
	char err[256], *text;

	CHECK(uapi_parse_get(sample_get2, strlen(sample_get2), &dev, err, sizeof(err)) == 0);
	strcpy(dev.name, "wg\"0");
	text = expose(&dev, 1, false, &out);
	CHECK(well_formed(text, false));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!CHECK(has_line(text, lines[i])))
			fprintf(stderr, "    missing: %s\n", lines[i]);
	/* What the second peer has no figure for is absent, not 0: a peer that
	 * never handshook; and NaN where a roam may teach it (NAT behaviour,
	 * path MTU), so that a roam changes values, not the set of series. */
	CHECK(!strstr(text, "roam_peer_handshake_age_seconds{interface=\"wg\\\"0\"," PEER2));
	CHECK(!strstr(text, "roam_peer_last_receive_age_seconds{interface=\"wg\\\"0\"," PEER2));
	CHECK(has_line(text, "roam_peer_suggested_keepalive_seconds{interface=\"wg\\\"0\"," PEER2 "} NaN"));
	CHECK(has_line(text, "roam_peer_nat_mapping_lost_idle_seconds{interface=\"wg\\\"0\"," PEER2 "} NaN"));
	CHECK(has_line(text, "roam_peer_path_mtu_bytes{interface=\"wg\\\"0\"," PEER2 "} NaN"));
	if (test_case_failures)
		fprintf(stderr, "%s", text);
	free(text);

	/* Strict OpenMetrics: only the counters' family names change. */
	text = expose(&dev, 1, true, &out);
	CHECK(well_formed(text, true));
	CHECK(has_line(text, "# TYPE roam_peer_received_bytes counter"));
	CHECK(has_line(text, "# UNIT roam_peer_received_bytes bytes"));
	CHECK(has_line(text, "# TYPE roam_peer_handshake_age_seconds gauge"));
	CHECK(has_line(text, "roam_peer_received_bytes_total{interface=\"wg\\\"0\"," PEER1 "} 3145728"));
	free(text);
	uapi_device_free(&dev);
}

/* Two interfaces: each family once, with both interfaces' samples. */
static void test_two_interfaces(void)
{
	struct uapi_device devs[2];
	struct output out;
	char err[256], *text, *a, *b;

	CHECK(uapi_parse_get(sample_get2, strlen(sample_get2), &devs[0], err, sizeof(err)) == 0);
	CHECK(uapi_parse_get(sample_get2, strlen(sample_get2), &devs[1], err, sizeof(err)) == 0);
	strcpy(devs[0].name, "wga");
	strcpy(devs[1].name, "wgb");
	text = expose(devs, 2, false, &out);
	CHECK(well_formed(text, false));
	a = strstr(text, "roam_interface_peers{interface=\"wga\"} 2\n");
	b = strstr(text, "roam_interface_peers{interface=\"wgb\"} 2\n");
	CHECK(a && b && b == a + strlen("roam_interface_peers{interface=\"wga\"} 2\n"));
	free(text);
	uapi_device_free(&devs[0]);
	uapi_device_free(&devs[1]);
}

static void test_wireguard_go(void)
{
	static const char reply[] = "listen_port=51820\n"
				    "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
				    "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=0\n"
				    "tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=0\nerrno=0\n\n";
	struct uapi_device dev;
	struct output out;
	char err[256], *text;

	CHECK(uapi_parse_get(reply, strlen(reply), &dev, err, sizeof(err)) == 0);
	strcpy(dev.name, "go0");
	text = expose(&dev, 1, false, &out);
	CHECK(well_formed(text, false));
	CHECK(has_line(text, "roam_interface_extended{interface=\"go0\"} 0"));
	CHECK(has_line(text, "roam_peer_received_bytes_total{interface=\"go0\"," PEER1 "} 20"));
	CHECK(has_line(text, "roam_peer_handshake_age_seconds{interface=\"go0\"," PEER1 "} 65.500"));
	CHECK(!strstr(text, "_packets_total") && !strstr(text, "roam_interface_under_load") &&
	      !strstr(text, "roam_peer_nat_") && !strstr(text, "roam_peer_session"));
	free(text);
	uapi_device_free(&dev);

	/* Nothing to report is still a valid exposition. */
	text = expose(NULL, 0, false, &out);
	CHECK(!strcmp(text, "# EOF\n"));
	free(text);
}

/* --compat=prometheus_wireguard_exporter: that exporter's names, types and
 * labels (friendly_name from "# friendly_name = ..." in the [Peer]
 * section), beside roam's own series, which keep their labels. */
static void test_exporter_names(void)
{
	static const char conf[] = "[Interface]\nPrivateKey = x\n# friendly_name = not a peer\n"
				   "[Peer]\n# a plain comment\n#friendly_name=  Alice's \"phone\"  \n"
				   "PublicKey = sbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbE= # trailing\n"
				   "AllowedIPs = 198.18.0.2/32\n"
				   "[Peer]\nPublicKey = wsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsI=\n";
	struct peer_names names;
	struct uapi_device dev;
	struct output out;
	char err[256], *text;

	peer_names_parse(conf, strlen(conf), &names);
	CHECK(names.n == 1);
	CHECK(uapi_parse_get(sample_get2, strlen(sample_get2), &dev, err, sizeof(err)) == 0);
	strcpy(dev.name, "wg0");
	FILE *f = open_memstream(&out.text, &out.len);
	metrics_write(f, &dev, 1, NOW_MS, &(struct metrics_options){ .exporter_names = true, .names = &names });
	fclose(f);
	text = out.text;
	CHECK(well_formed(text, false));
	CHECK(has_line(text, "# TYPE wireguard_sent_bytes_total counter"));
	CHECK(has_line(text, "# HELP wireguard_sent_bytes_total Bytes sent to the peer"));
	CHECK(has_line(text, "# TYPE wireguard_latest_handshake_seconds gauge"));
	CHECK(has_line(text, "wireguard_sent_bytes_total{interface=\"wg0\"," PEER1
			     ",allowed_ips=\"198.18.0.2/32,fd00:2::2/128\",friendly_name=\"Alice's \\\"phone\\\"\"} 1536"));
	CHECK(has_line(text, "wireguard_received_bytes_total{interface=\"wg0\"," PEER1
			     ",allowed_ips=\"198.18.0.2/32,fd00:2::2/128\",friendly_name=\"Alice's \\\"phone\\\"\"} 3145728"));
	CHECK(has_line(text, "wireguard_latest_handshake_seconds{interface=\"wg0\"," PEER1
			     ",allowed_ips=\"198.18.0.2/32,fd00:2::2/128\",friendly_name=\"Alice's \\\"phone\\\"\"} 1700000000"));
	CHECK(strstr(text, "wireguard_latest_handshake_seconds{interface=\"wg0\"," PEER2 ",allowed_ips=\""));
	CHECK(!strstr(text, PEER2 ",allowed_ips=\"\",friendly_name"));	/* unnamed: no label */
	CHECK(!strstr(text, "wireguard_peers_total"));
	/* roam's own series: the peer up, connected peers, the endpoint on _info only. */
	CHECK(has_line(text, "roam_peer_up{interface=\"wg0\"," PEER1 "} 1"));
	CHECK(has_line(text, "roam_peer_up{interface=\"wg0\"," PEER2 "} 0"));
	CHECK(has_line(text, "roam_interface_connected_peers{interface=\"wg0\"} 1"));
	CHECK(has_line(text, "roam_peer_info{interface=\"wg0\"," PEER1
			     ",endpoint=\"192.0.2.12:51820\",path_mtu_origin=\"probe\","
			     "allowed_ips=\"198.18.0.2/32,fd00:2::2/128\",friendly_name=\"Alice's \\\"phone\\\"\"} 1"));
	/* The path MTU in force: its value here, where it came from on _info. */
	CHECK(has_line(text, "roam_peer_path_mtu_bytes{interface=\"wg0\"," PEER1 "} 1292"));
	CHECK(has_line(text, "roam_peer_path_inner_mtu_bytes{interface=\"wg0\"," PEER1 "} 1232"));
	CHECK(has_line(text, "roam_peer_received_bytes_total{interface=\"wg0\"," PEER1 "} 3145728"));
	if (test_case_failures)
		fprintf(stderr, "%s", text);
	free(text);

	/* Without the option, none of the exporter's series. */
	text = expose(&dev, 1, false, &out);
	CHECK(!strstr(text, "wireguard_"));
	free(text);
	uapi_device_free(&dev);
	peer_names_free(&names);
}

/* The series (name and labels, not values) of an exposition, one per line. */
static char *series_of(const char *text, bool with_info)
{
	char *set = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&set, &len);

	for (const char *line = text, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		const char *space = memrchr(line, ' ', (size_t)(end - line));
		if (line[0] == '#' || !space || (!with_info && !strncmp(line, "roam_peer_info{", 15)))
			continue;
		fprintf(f, "%.*s\n", (int)(space - line), line);
	}
	fclose(f);
	return set;
}

/* A peer that roams 1,000 times (a new address and port each time, its
 * counters moving) changes the labels of roam_peer_info and of no other
 * series: the set of every other series stays the one of the first
 * scrape, with or without --compat. tests/integration/test_roam_metrics.sh
 * does the same with a real peer moving its source. */
static void test_roaming_adds_no_series(void)
{
	for (int compat = 0; compat <= 1; compat++) {
		struct metrics_options opt = { .exporter_names = compat };
		struct uapi_device dev;
		struct output out;
		char err[256], *first = NULL, *info_first = NULL;
		int changed = 0, info_changed = 0;

		CHECK(uapi_parse_get(sample_get2, strlen(sample_get2), &dev, err, sizeof(err)) == 0);
		strcpy(dev.name, "wg0");
		for (int i = 0; i <= 1000; i++) {
			struct uapi_peer *p = &dev.peers[0];
			snprintf(p->endpoint, sizeof(p->endpoint), "198.51.100.%d:%d", 1 + i % 250, 1024 + i);
			p->endpoint_changes = (uint64_t)i;
			p->rx_bytes += 148;
			FILE *f = open_memstream(&out.text, &out.len);
			metrics_write(f, &dev, 1, NOW_MS + (uint64_t)i * 10, &opt);
			fclose(f);
			char *set = series_of(out.text, false), *all = series_of(out.text, true);
			if (!first) {
				first = set;
				info_first = all;
			} else {
				changed += strcmp(set, first) != 0;
				info_changed += strcmp(all, info_first) != 0;
				free(set);
				free(all);
			}
			free(out.text);
		}
		CHECK(changed == 0);
		CHECK(info_changed == 1000);	/* the test does see the roams */
		free(first);
		free(info_first);
		uapi_device_free(&dev);
	}
}

/* The hand-made writer under the exposition (outbuf.c): numbers as
 * printf makes them, and text that passes a chunk's size (one piece larger
 * than a chunk, and many small ones across chunk boundaries) arriving whole
 * and in order. */
static void test_outbuf(void)
{
	static const uint64_t numbers[] = { 0, 7, 10, 999, 1000, 1001, 65535, UINT32_MAX, UINT64_MAX };
	char *text = NULL, want[64];
	size_t len = 0, n;
	FILE *f = open_memstream(&text, &len);
	struct outbuf o;

	outbuf_init(&o, f);
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		outbuf_u64(&o, numbers[i]);
		outbuf_putc(&o, ' ');
		outbuf_millis(&o, numbers[i]);
		outbuf_putc(&o, '\n');
	}
	outbuf_free(&o);
	fflush(f);
	n = 0;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		int w = snprintf(want, sizeof(want), "%" PRIu64 " %" PRIu64 ".%03" PRIu64 "\n", numbers[i],
				 numbers[i] / 1000, numbers[i] % 1000);
		CHECK(n + (size_t)w <= len && !memcmp(text + n, want, (size_t)w));
		n += (size_t)w;
	}
	CHECK(n == len);
	fclose(f);
	free(text);

	/* 3 chunks of small pieces, then one piece of 1.5 chunks, then more. */
	size_t big = OUTBUF_CHUNK + OUTBUF_CHUNK / 2, total = 0;
	char *blob = malloc(big);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)('a' + i % 26);
	text = NULL;
	f = open_memstream(&text, &len);
	outbuf_init(&o, f);
	for (size_t i = 0; total < 3 * OUTBUF_CHUNK; i++, total += 7)
		outbuf_put(&o, blob + i % 19, 7);
	outbuf_put(&o, blob, big);
	outbuf_puts(&o, "end");
	outbuf_free(&o);
	fclose(f);
	CHECK(len == total + big + 3);
	bool same = len == total + big + 3;
	for (size_t i = 0, at = 0; same && at < total; i++, at += 7)
		same = !memcmp(text + at, blob + i % 19, 7);
	CHECK(same && !memcmp(text + total, blob, big) && !memcmp(text + total + big, "end", 3));
	free(text);

	/* In memory (f NULL): grows and keeps all, handed over by take. */
	outbuf_init(&o, NULL);
	outbuf_put(&o, blob, big);
	outbuf_u64(&o, 42);
	text = outbuf_take(&o, &len);
	CHECK(len == big + 2 && !memcmp(text, blob, big) && !memcmp(text + big, "42", 2));
	free(text);
	outbuf_free(&o);
	free(blob);
}

int main(void)
{
	RUN(test_exporter_names);
	RUN(test_roaming_adds_no_series);
	RUN(test_label_escaping);
	RUN(test_sample_exposition);
	RUN(test_two_interfaces);
	RUN(test_wireguard_go);
	RUN(test_outbuf);
	return test_finish("test_roam_metrics");
}
