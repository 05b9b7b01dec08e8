/* The UAPI client's parser of get replies (src/roam/uapi_client.c): a full
 * get=2 reply field by field, a get=1 reply (wireguard-go), the daemon's
 * errno, every class of malformed reply rejected with its line, and the
 * set request builder, which must keep its keys exact while it grows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "uapi_client.h"

#include "roam_reply_sample.h"
#include "test.h"

static int parse(const char *text, struct uapi_device *dev, char *err)
{
	err[0] = '\0';
	return uapi_parse_get(text, strlen(text), dev, err, 256);
}

static bool key_is(const uint8_t key[KEY_LEN], const char *b64)
{
	char got[KEY_B64_LEN + 1];

	key_to_base64(got, key);
	return !strcmp(got, b64);
}

static void test_full_reply(void)
{
	struct uapi_device dev;
	char err[256], a[IP_PREFIX_STRLEN];
	const struct uapi_peer *p;

	CHECK(parse(sample_get2, &dev, err) == 0);
	CHECK(dev.has_private_key && key_is(dev.public_key, SAMPLE_PUBLIC_KEY));
	CHECK(dev.listen_port == 51820 && dev.fwmark == 51820);
	CHECK(dev.extended && dev.roam_version == 1 && !dev.under_load);
	CHECK(dev.n_drops == 2 && !strcmp(dev.drops[0].reason, "bad_mac1") && dev.drops[0].count == 3 &&
	      !strcmp(dev.drops[1].reason, "no_route") && dev.drops[1].count == 1);
	CHECK(dev.n_peers == 2);
	if (dev.n_peers != 2)
		return;
	p = &dev.peers[0];
	CHECK(key_is(p->public_key, "sbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbGxsbE="));
	CHECK(p->has_preshared_key && !strcmp(p->endpoint, "192.0.2.12:51820"));
	CHECK(p->last_handshake_sec == 1700000000 && p->last_handshake_nsec == 500000000);
	CHECK(p->tx_bytes == 1536 && p->rx_bytes == 3145728 && p->persistent_keepalive == 25);
	CHECK(p->n_allowed_ips == 2 && !strcmp(ip_prefix_str(&p->allowed_ips[0], a), "198.18.0.2/32") &&
	      !strcmp(ip_prefix_str(&p->allowed_ips[1], a), "fd00:2::2/128"));
	CHECK(p->rx_packets == 40 && p->tx_packets == 42 && p->has_session && p->handshake_attempts == 0);
	CHECK(p->has_last_receive_age && p->last_receive_age_ms == 1500);
	CHECK(p->responses_unconfirmed == 2 && p->has_last_disallowed_src &&
	      !strcmp(ip_prefix_str(&p->last_disallowed_src, a), "198.18.0.9/32"));
	CHECK(p->has_last_handshake_age && p->last_handshake_age_ms == 65000);
	CHECK(p->n_drops == 1 && !strcmp(p->drops[0].reason, "replay") && p->drops[0].count == 2);
	CHECK(p->endpoint_changes == 1 && p->nat_rebinds == 1);
	CHECK(p->nat_rebound_min_idle_ms == 30000 && p->nat_kept_max_idle_ms == 10000 && p->suggested_keepalive == 15);
	CHECK(p->n_history == 2);
	if (p->n_history == 2) {
		CHECK(!strcmp(p->history[0].kind, "handshake_complete") && p->history[0].wall_sec == 1699999900 &&
		      p->history[0].wall_nsec == 1 && p->history[0].age_ms == 165000 && !p->history[0].old_endpoint[0] &&
		      !strcmp(p->history[0].new_endpoint, "192.0.2.2:51820") && p->history[0].idle_ms == 0);
		CHECK(!strcmp(p->history[1].kind, "endpoint_changed") && p->history[1].wall_nsec == 250000000 &&
		      !strcmp(p->history[1].old_endpoint, "192.0.2.2:51820") &&
		      !strcmp(p->history[1].new_endpoint, "192.0.2.12:51820") && p->history[1].idle_ms == 30000);
	}
	p = &dev.peers[1];
	CHECK(!p->has_preshared_key && !strcmp(p->endpoint, "[fd00:1::2]:51821") && p->last_handshake_sec == 0);
	CHECK(!p->has_session && p->handshake_attempts == 3 && !p->has_last_receive_age && !p->has_last_handshake_age);
	CHECK(!p->responses_unconfirmed && !p->has_last_disallowed_src);
	CHECK(p->n_drops == 0 && p->n_history == 0 && p->n_allowed_ips == 0 && !p->suggested_keepalive);
	uapi_device_free(&dev);
	CHECK(dev.peers == NULL && dev.n_peers == 0);
}

/* wireguard-go's answer to get=1 (docs/protocol.md §7.3's live example). */
static void test_get1_reply(void)
{
	static const char reply[] =
		"private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n"
		"listen_port=51820\n"
		"public_key=fe33c4fc9b1ebb6e1ef08d6beab8b2e6a6a2a2eb1bab3bd5a0f0cf9acb0b6537\n"
		"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		"protocol_version=1\n"
		"endpoint=127.0.0.1:53856\n"
		"last_handshake_time_sec=1795599325\n"
		"last_handshake_time_nsec=657311814\n"
		"tx_bytes=188\n"
		"rx_bytes=244\n"
		"persistent_keepalive_interval=0\n"
		"allowed_ip=198.18.99.2/32\n"
		"errno=0\n"
		"\n";
	struct uapi_device dev;
	char err[256];

	CHECK(parse(reply, &dev, err) == 0);
	CHECK(!dev.extended && dev.n_drops == 0 && dev.n_peers == 1 && dev.fwmark == 0);
	CHECK(dev.peers[0].rx_bytes == 244 && dev.peers[0].tx_bytes == 188 && !dev.peers[0].has_last_handshake_age);
	uapi_device_free(&dev);

	/* No peers, no key: still a device. */
	CHECK(parse("errno=0\n\n", &dev, err) == 0 && !dev.has_private_key && dev.n_peers == 0);
	CHECK(parse("listen_port=1\nerrno=0\n", &dev, err) == 0 && dev.listen_port == 1);
	uapi_device_free(&dev);
}

static void test_daemon_errno(void)
{
	struct uapi_device dev;
	char err[256];

	CHECK(parse("errno=-22\n\n", &dev, err) == -22 && strstr(err, "Invalid argument"));
	CHECK(parse("errno=22\n\n", &dev, err) == -22);
}

/* Each one is rejected, with the line it is on. */
static void test_malformed(void)
{
	static const struct {
		const char *text;
		const char *where;
	} bad[] = {
		{ "", "no errno" },
		{ "listen_port=1\n\n", "no errno" },
		{ "listen_port\nerrno=0\n\n", "line 1" },
		{ "listen_port=65536\nerrno=0\n\n", "line 1" },
		{ "listen_port=+1\nerrno=0\n\n", "line 1" },
		{ "fwmark=4294967296\nerrno=0\n\n", "line 1" },
		{ "private_key=abc\nerrno=0\n\n", "line 1" },
		{ "roam_under_load=2\nerrno=0\n\n", "line 1" },
		{ "roam_drop=bad_mac1\nerrno=0\n\n", "line 1" },
		{ "roam_drop=Bad-Mac:1\nerrno=0\n\n", "line 1" },
		{ "roam_drop=x:18446744073709551616\nerrno=0\n\n", "line 1" },
		{ "public_key=zz\nerrno=0\n\n", "line 1" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nlisten_port=1\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nendpoint=a b:1\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nallowed_ip=198.18.0.1\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nprotocol_version=2\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\nlast_handshake_time_nsec=1000000000\n"
		  "errno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
		  "roam_history=endpoint_changed 1.5 1 - - 0\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
		  "roam_history=endpoint_changed 1.000000000 1 - -\nerrno=0\n\n",
		  "line 2" },
		{ "public_key=b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1\n"
		  "roam_history=endpoint_changed 1.000000000 1 x y 0\nerrno=0\n\n",
		  "line 2" },
		{ "errno=x\n\n", "line 1" },
		{ "errno=0\nlisten_port=1\n\n", "line 2" },
	};
	struct uapi_device dev;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = parse(bad[i].text, &dev, err) == -EPROTO && strstr(err, bad[i].where);
		if (!CHECK(ok))
			fprintf(stderr, "    case %zu: %s\n", i, err);
		CHECK(dev.peers == NULL && dev.drops == NULL);
	}
	/* A NUL inside is no text at all. */
	CHECK(uapi_parse_get("errno=0\n\0\n", 10, &dev, err, sizeof(err)) == -EPROTO);
}

/* The reply as roam metrics and show see it, for comparing two parses. */
static char *rendered(const struct uapi_device *dev)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	metrics_write(f, dev, 1, 1700000000000ull, NULL);
	fclose(f);
	return text;
}

/* Feeds text as get_parsed does, in pieces of size bytes: what a piece
 * leaves of a line is fed again with the next piece. */
static int parse_in_pieces(const char *text, size_t size, struct uapi_device *dev, char *err)
{
	struct uapi_get_parser gp;
	size_t len = strlen(text), at = 0, have = 0, n, used;
	char *buf = malloc(len + 1);

	uapi_get_parser_init(&gp, dev, err, 256);
	while (at < len && !uapi_get_parser_done(&gp)) {
		n = len - at < size ? len - at : size;
		memcpy(buf + have, text + at, n);
		at += n;
		have += n;
		used = uapi_get_parser_feed(&gp, buf, have);
		have -= used;
		memmove(buf, buf + used, have);
	}
	buf[uapi_get_parser_done(&gp) ? 0 : have] = '\0';
	int ret = uapi_get_parser_finish(&gp, buf);
	free(buf);
	return ret;
}

/* roam parses a reply as it arrives: in pieces of any size the result
 * (or the error, with its line) is the same as of the whole text. */
static void test_fed_in_pieces(void)
{
	static const size_t sizes[] = { 1, 2, 3, 7, 64, 4096 };
	const char *replies[] = {
		sample_get2,
		"listen_port=1\npublic_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		"allowed_ip=198.18.0.0/24\nerrno=0",		/* the last line cut off, no blank line */
		"listen_port=1\nerrno=0\n\nlisten_port=x\n",	/* what follows the blank line is not read */
		"listen_port=1\nrx_bytes=1\n",			/* no errno */
		"listen_port=1\nnonsense\nerrno=0\n\n",	/* no '=' on line 2 */
		"errno=-22\n\n",
	};
	struct uapi_device whole, piece;
	char err_whole[256], err_piece[256];

	for (size_t r = 0; r < sizeof(replies) / sizeof(replies[0]); r++) {
		int want = parse(replies[r], &whole, err_whole);
		char *want_text = want ? NULL : rendered(&whole);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			err_piece[0] = '\0';
			int got = parse_in_pieces(replies[r], sizes[s], &piece, err_piece);
			CHECK(got == want);
			CHECK(!strcmp(err_piece, err_whole));
			if (got == 0 && want == 0) {
				char *got_text = rendered(&piece);
				CHECK(!strcmp(got_text, want_text));
				free(got_text);
			}
			uapi_device_free(&piece);
		}
		free(want_text);
		uapi_device_free(&whole);
	}
	/* A NUL in a piece is refused as in the whole text. */
	{
		struct uapi_get_parser gp;
		char data[] = "listen_port=1\n\0\n";
		uapi_get_parser_init(&gp, &piece, err_piece, sizeof(err_piece));
		uapi_get_parser_feed(&gp, data, sizeof(data) - 1);
		CHECK(uapi_get_parser_finish(&gp, (char[]){ "" }) == -EPROTO && strstr(err_piece, "NUL"));
	}
}

static void test_request_builder(void)
{
	struct uapi_request req = { 0 };
	uint8_t key[KEY_LEN];
	char want[128];

	for (int i = 0; i < KEY_LEN; i++)
		key[i] = (uint8_t)(i * 9);
	uapi_request_add_key(&req, "private_key", key);
	CHECK(req.len == strlen(req.data) &&
	      !strcmp(req.data, "private_key=0009121b242d363f48515a636c757e879099a2abb4bdc6cfd8e1eaf3fc050e17\n"));
	/* Far past the first allocation: every byte kept, in order. */
	for (int i = 0; i < 2000; i++)
		uapi_request_add(&req, "allowed_ip=198.18.%d.%d/32\n", i / 256, i % 256);
	uapi_request_add_key(&req, "public_key", key);
	CHECK(req.len == strlen(req.data) && req.len < req.cap);
	CHECK(!strncmp(req.data, "private_key=0009", 16));
	snprintf(want, sizeof(want), "allowed_ip=198.18.7.207/32\npublic_key=0009");
	CHECK(strstr(req.data, want) != NULL);
	uapi_request_free(&req);
	CHECK(req.data == NULL && req.len == 0);
}

static void test_socket_paths(void)
{
	char path[UAPI_SOCKET_PATH_MAX];

	CHECK(uapi_socket_path("wg0", path) && !strcmp(path, "/var/run/wireguard/wg0.sock"));
	CHECK(!uapi_socket_path("", path) && !uapi_socket_path("a/b", path) && !uapi_socket_path("..", path));
	CHECK(!uapi_socket_path("sixteen-chars-xx", path) && uapi_socket_path("fifteen-chars-x", path));
	CHECK(uapi_connect("a/b") == -EINVAL);
}

int main(void)
{
	RUN(test_full_reply);
	RUN(test_get1_reply);
	RUN(test_daemon_errno);
	RUN(test_malformed);
	RUN(test_fed_in_pieces);
	RUN(test_request_builder);
	RUN(test_socket_paths);
	return test_finish("test_roam_uapi_client");
}
