/* The wg-quick parser and its helpers (src/roam/config.c; docs/protocol.md §8):
 * base64 keys against a naive reference encoder for every byte value at
 * every position, every non-canonical spelling rejected; prefixes; a full
 * file read back field by field with its lines; wg's whitespace and comment
 * rules; every class of error with its line, and parsing going on after
 * each one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "test.h"

/* ---- helpers ----------------------------------------------------------- */

static void parse(const char *text, struct config *cfg, struct diag_list *diags)
{
	memset(diags, 0, sizeof(*diags));
	config_parse_string("t.conf", text, strlen(text), cfg, diags);
}

/* Is there a finding of this check on this line? */
static bool has(const struct diag_list *diags, unsigned line, const char *check)
{
	size_t i;

	for (i = 0; i < diags->n; i++)
		if (diags->v[i].line == line && !strcmp(diags->v[i].check, check))
			return true;
	return false;
}

static void dump(const struct diag_list *diags)
{
	size_t i;

	for (i = 0; i < diags->n; i++)
		fprintf(stderr, "    %s:%u: %s: %s (%s)\n", diags->v[i].file, diags->v[i].line,
			diag_severity_name(diags->v[i].severity), diags->v[i].message, diags->v[i].check);
}

static void done(struct config *cfg, struct diag_list *diags)
{
	config_free(cfg);
	diag_list_free(diags);
}

/* Plain textbook base64 of a 32-byte key, as the oracle. */
static void reference_base64(char out[45], const uint8_t key[32])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned bits = 0, nbits = 0, i, o = 0;

	for (i = 0; i < 32; i++) {
		bits = bits << 8 | key[i];
		nbits += 8;
		while (nbits >= 6) {
			nbits -= 6;
			out[o++] = alphabet[(bits >> nbits) & 63];
		}
	}
	out[o++] = alphabet[(bits << (6 - nbits)) & 63];
	out[o++] = '=';
	out[o] = '\0';
}

static const char PRIV[] = "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=";
static const char PUB[] = "2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=";
static const char PUB2[] = "Nh8YP4vd3Dt1tBQ+HH0PDEmgd3Nfb9tb/fhv12bx5nI=";

/* ---- base64 ------------------------------------------------------------ */

static void test_base64_known(void)
{
	uint8_t key[32], back[32];
	char b64[45];
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	key_to_base64(b64, key);
	CHECK(!strcmp(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
	CHECK(key_from_base64(back, b64));
	CHECK_MEM(back, key, 32);
	memset(key, 0xff, 32);
	key_to_base64(b64, key);
	CHECK(!strcmp(b64, "//////////////////////////////////////////8="));
	memset(key, 0, 32);
	key_to_base64(b64, key);
	CHECK(!strcmp(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
}

/* Every byte value at every position, against the reference encoder. */
static void test_base64_every_byte(void)
{
	uint8_t key[32], back[32];
	char ours[45], ref[45];
	int pos, v, bad = 0;

	for (pos = 0; pos < 32; pos++) {
		for (v = 0; v < 256; v++) {
			memset(key, 0x5a, 32);
			key[pos] = (uint8_t)v;
			key_to_base64(ours, key);
			reference_base64(ref, key);
			if (strcmp(ours, ref) || !key_from_base64(back, ref) || memcmp(back, key, 32))
				bad++;
		}
	}
	CHECK(bad == 0);
}

static void test_base64_rejects(void)
{
	char s[64];
	uint8_t key[32];
	int i, c, accepted;
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	CHECK(key_from_base64(key, PRIV));
	CHECK(!key_from_base64(key, ""));
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w"));	/* 43 */
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=="));	/* 45 */
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32wA"));	/* no '=' */
	/* base64url and whitespace are not base64. */
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn3_w="));
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn3-w="));
	CHECK(!key_from_base64(key, "iGufwqTKk5ZZX5HtrXaS8OL0RAzRR IxGGwOUWRn32w="));
	/* A bad character anywhere, and '=' early, are caught at every position. */
	for (i = 0; i < 43; i++) {
		strcpy(s, PRIV);
		s[i] = '!';
		CHECK(!key_from_base64(key, s));
		s[i] = '=';
		CHECK(!key_from_base64(key, s));
		s[i] = (char)0x80;
		CHECK(!key_from_base64(key, s));
	}
	/* The 43rd character: only the 16 values whose two padding bits are
	 * zero spell a key; the other 48 would be aliases. */
	accepted = 0;
	for (c = 0; c < 64; c++) {
		strcpy(s, PRIV);
		s[42] = alphabet[c];
		if (key_from_base64(key, s)) {
			accepted++;
			CHECK((c & 3) == 0);
		}
	}
	CHECK(accepted == 16);
	/* A failed decode leaves no key material behind. */
	memset(key, 0xaa, 32);
	strcpy(s, PRIV);
	s[42] = 'x';
	CHECK(!key_from_base64(key, s));
	CHECK(crypto_is_zero(key, 32));
}

/* ---- prefixes ---------------------------------------------------------- */

static void test_prefix_parse(void)
{
	struct ip_prefix p;
	char buf[IP_PREFIX_STRLEN];

	CHECK(ip_prefix_parse(&p, "198.18.0.1/24", false) && p.family == AF_INET && p.cidr == 24);
	CHECK(!strcmp(ip_prefix_str(&p, buf), "198.18.0.1/24"));
	CHECK(!strcmp(ip_addr_str(&p, buf), "198.18.0.1"));
	CHECK(ip_prefix_parse(&p, "198.18.0.1", true) && p.cidr == 32);
	CHECK(!ip_prefix_parse(&p, "198.18.0.1", false));
	CHECK(ip_prefix_parse(&p, "fd00:6::2", true) && p.family == AF_INET6 && p.cidr == 128);
	CHECK(ip_prefix_parse(&p, "::/0", false) && p.cidr == 0);
	CHECK(!strcmp(ip_prefix_str(&p, buf), "::/0"));
	CHECK(ip_prefix_parse(&p, "0.0.0.0/0", false) && p.cidr == 0);
	CHECK(ip_prefix_parse(&p, "fd00::/128", false));
	CHECK(!ip_prefix_parse(&p, "fd00::/129", false));
	CHECK(!ip_prefix_parse(&p, "198.18.0.1/33", false));
	CHECK(!ip_prefix_parse(&p, "198.18.0.1/", true));
	CHECK(!ip_prefix_parse(&p, "198.18.0.1/-1", true));
	CHECK(!ip_prefix_parse(&p, "198.18.0.1/+8", true));
	CHECK(!ip_prefix_parse(&p, "198.18.0.1/2/4", true));
	CHECK(!ip_prefix_parse(&p, "/24", true));
	CHECK(!ip_prefix_parse(&p, "", true));
	CHECK(!ip_prefix_parse(&p, "198.18.0", true));
	CHECK(!ip_prefix_parse(&p, "198.18.0.256", true));
	CHECK(!ip_prefix_parse(&p, "198.018.0.1", true));	/* octal-looking: ambiguous */
	CHECK(!ip_prefix_parse(&p, "fd00::1%eth0", true));
	CHECK(!ip_prefix_parse(&p, "example.com", true));
	CHECK(!ip_prefix_parse(&p, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128x", true));
}

static void test_prefix_relations(void)
{
	struct ip_prefix a, b, c, v6;

	ip_prefix_parse(&a, "198.18.0.0/15", false);
	ip_prefix_parse(&b, "198.19.7.0/24", false);
	ip_prefix_parse(&c, "198.20.0.0/16", false);
	ip_prefix_parse(&v6, "::/0", false);
	CHECK(ip_prefix_contains(&a, &b));
	CHECK(!ip_prefix_contains(&b, &a));
	CHECK(ip_prefix_overlap(&a, &b) && ip_prefix_overlap(&b, &a));
	CHECK(!ip_prefix_overlap(&a, &c));
	CHECK(!ip_prefix_contains(&v6, &a));	/* families never mix */
	CHECK(ip_prefix_contains(&a, &a));
	/* A non-byte-aligned boundary: /15 holds 198.18 and 198.19 only. */
	ip_prefix_parse(&c, "198.17.255.255", true);
	CHECK(!ip_prefix_contains(&a, &c));
	ip_prefix_parse(&c, "198.19.255.255", true);
	CHECK(ip_prefix_contains(&a, &c));

	ip_prefix_parse(&a, "198.18.0.77/25", false);
	CHECK(ip_prefix_has_host_bits(&a));
	ip_prefix_mask(&a);
	ip_prefix_parse(&b, "198.18.0.0/25", false);
	CHECK(!ip_prefix_has_host_bits(&a) && ip_prefix_equal(&a, &b));
	ip_prefix_parse(&a, "fd00:6::1:2/97", false);
	ip_prefix_mask(&a);
	ip_prefix_parse(&b, "fd00:6::/97", false);
	CHECK(ip_prefix_equal(&a, &b));
	ip_prefix_parse(&a, "0.0.0.0/0", false);
	CHECK(!ip_prefix_has_host_bits(&a));
	ip_prefix_parse(&a, "198.18.0.1/0", false);
	CHECK(ip_prefix_has_host_bits(&a));
}

/* ---- the parser -------------------------------------------------------- */

static void test_full_file(void)
{
	static const char text[] =
		"# a comment line\n"						/* 1 */
		"[Interface]\n"							/* 2 */
		"PrivateKey = iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\n"	/* 3 */
		"ListenPort = 51820\n"						/* 4 */
		"FwMark = 0xca6c\n"						/* 5 */
		"Address = 198.18.0.2/24, fd00:6::2/64\n"			/* 6 */
		"DNS = 198.18.0.1, fd00:6::1, corp.example\n"			/* 7 */
		"MTU = 1280\n"							/* 8 */
		"Table = off\n"							/* 9 */
		"PreUp = echo pre up\n"						/* 10 */
		"PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"		/* 11 */
		"PostUp = echo second\n"					/* 12 */
		"PreDown = echo pre down\n"					/* 13 */
		"PostDown = echo post down\n"					/* 14 */
		"SaveConfig = true\n"						/* 15 */
		"\n"								/* 16 */
		"[Peer]\n"							/* 17 */
		"PublicKey = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n"	/* 18 */
		"PresharedKey = W17fgg8MJMJP+XRFel4sShKmB5g12J9uLzZQi7PfV/8=\n"	/* 19 */
		"AllowedIPs = 198.18.0.0/24, fd00:6::/64\n"			/* 20 */
		"AllowedIPs = 192.0.2.7\n"					/* 21 */
		"Endpoint = 203.0.113.10:51820\n"				/* 22 */
		"PersistentKeepalive = 25\n"					/* 23 */
		"[Peer]\n"							/* 24 */
		"PublicKey = Nh8YP4vd3Dt1tBQ+HH0PDEmgd3Nfb9tb/fhv12bx5nI=\n"	/* 25 */
		"Endpoint = [fd00:1::10]:51821\n";				/* 26 */
	struct config cfg;
	struct diag_list diags;
	const struct config_interface *in = &cfg.iface;
	const struct config_peer *p;
	uint8_t key[32];
	char buf[IP_PREFIX_STRLEN];

	parse(text, &cfg, &diags);
	if (!CHECK(diags.n == 0))
		dump(&diags);
	CHECK(!strcmp(cfg.path, "t.conf"));
	CHECK(in->line == 2);
	key_from_base64(key, PRIV);
	CHECK(in->private_key_line == 3 && !memcmp(in->private_key, key, 32));
	CHECK(in->listen_port == 51820 && in->listen_port_line == 4);
	CHECK(in->fwmark == 0xca6c && in->fwmark_line == 5);
	CHECK(in->n_addresses == 2 && in->addresses[0].line == 6 && in->addresses[1].line == 6);
	CHECK(!strcmp(ip_prefix_str(&in->addresses[0].prefix, buf), "198.18.0.2/24"));	/* host bits kept */
	CHECK(!strcmp(ip_prefix_str(&in->addresses[1].prefix, buf), "fd00:6::2/64"));
	CHECK(in->n_dns == 3 && in->dns[0].is_addr && in->dns[1].is_addr && !in->dns[2].is_addr);
	CHECK(!strcmp(ip_addr_str(&in->dns[1].addr, buf), "fd00:6::1"));
	CHECK(!strcmp(in->dns[2].domain, "corp.example") && in->dns[2].line == 7);
	CHECK(in->mtu == 1280 && in->mtu_line == 8);
	CHECK(!strcmp(in->table, "off") && in->table_line == 9);
	CHECK(in->n_hooks[CONFIG_PRE_UP] == 1 && !strcmp(in->hooks[CONFIG_PRE_UP][0].s, "echo pre up"));
	CHECK(in->n_hooks[CONFIG_POST_UP] == 2 && in->hooks[CONFIG_POST_UP][1].line == 12);
	CHECK(!strcmp(in->hooks[CONFIG_POST_UP][0].s, "iptables -A FORWARD -i %i -j ACCEPT"));
	CHECK(in->n_hooks[CONFIG_PRE_DOWN] == 1 && in->n_hooks[CONFIG_POST_DOWN] == 1);
	CHECK(in->save_config && in->save_config_line == 15);

	CHECK(cfg.n_peers == 2);
	p = &cfg.peers[0];
	key_from_base64(key, PUB);
	CHECK(p->line == 17 && p->public_key_line == 18 && !memcmp(p->public_key, key, 32));
	CHECK(p->preshared_key_line == 19);
	CHECK(p->n_allowed_ips == 3 && p->allowed_ips[2].line == 21);
	CHECK(!strcmp(ip_prefix_str(&p->allowed_ips[2].prefix, buf), "192.0.2.7/32"));
	CHECK(p->endpoint.line == 22 && p->endpoint.port == 51820 && p->endpoint.is_literal);
	CHECK(!strcmp(p->endpoint.host, "203.0.113.10"));
	CHECK(p->persistent_keepalive == 25 && p->persistent_keepalive_line == 23);
	p = &cfg.peers[1];
	CHECK(p->line == 24 && p->public_key_line == 25 && p->n_allowed_ips == 0);
	CHECK(!strcmp(p->endpoint.host, "fd00:1::10") && p->endpoint.port == 51821);
	CHECK(p->endpoint.is_literal && p->endpoint.addr.family == AF_INET6);
	CHECK(!p->persistent_keepalive_line);
	done(&cfg, &diags);
}

/* wg's line rules: '#' to the end of line is gone, all whitespace inside a
 * line is removed, names are case-insensitive; CRLF and a missing final
 * newline are fine. Hooks keep their inner spaces. */
static void test_line_rules(void)
{
	struct config cfg;
	struct diag_list diags;
	char buf[IP_PREFIX_STRLEN];

	parse("  [ inTERface ]  # trailing comment\r\n"
	      "privatekey=iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\r\n"
	      "Listen Port = 5 18 20\r\n"
	      "POSTUP =   ip  rule add  table 7   # not part of the command\r\n"
	      "\t\r\n"
	      "#[Peer]\n"
	      "[PEER]\n"
	      "publicKEY = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n"
	      "Allowed IPs = 198.18.0.1 / 32 ,\tfd00::1/128",
	      &cfg, &diags);
	if (!CHECK(diags.n == 0))
		dump(&diags);
	CHECK(cfg.iface.line == 1 && cfg.iface.private_key_line == 2);
	CHECK(cfg.iface.listen_port == 51820);
	CHECK(cfg.iface.n_hooks[CONFIG_POST_UP] == 1 &&
	      !strcmp(cfg.iface.hooks[CONFIG_POST_UP][0].s, "ip  rule add  table 7"));
	CHECK(cfg.n_peers == 1 && cfg.peers[0].line == 7);
	CHECK(cfg.peers[0].n_allowed_ips == 2 && cfg.peers[0].allowed_ips[1].line == 9);
	CHECK(!strcmp(ip_prefix_str(&cfg.peers[0].allowed_ips[0].prefix, buf), "198.18.0.1/32"));
	done(&cfg, &diags);

	/* An empty file, and one of comments, are empty configs. */
	parse("", &cfg, &diags);
	CHECK(diags.n == 0 && cfg.iface.line == 0 && cfg.n_peers == 0);
	done(&cfg, &diags);
	parse("# nothing\n\n   \n", &cfg, &diags);
	CHECK(diags.n == 0);
	done(&cfg, &diags);
}

/* One file with an error of every kind: each is reported on its own line,
 * and what follows each one is still parsed. */
static void test_errors_keep_going(void)
{
	static const char text[] =
		"ListenPort = 1\n"						/* 1 syntax */
		"[Interface]\n"							/* 2 */
		"PrivateKey = iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w\n"	/* 3 bad-value */
		"ListenPort = 65536\n"						/* 4 bad-value */
		"Adress = 198.18.0.1/24\n"					/* 5 unknown-key */
		"MTU = 1420\n"							/* 6 fine */
		"just words\n"							/* 7 syntax */
		"PublicKey = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n"	/* 8 unknown-key */
		"[Peers]\n"							/* 9 unknown-section */
		"Whatever = 1\n"						/* 10 skipped quietly */
		"[Interface]\n"							/* 11 duplicate-interface */
		"FwMark = 12\n"							/* 12 fine */
		"MTU = 1280\n"							/* 13 duplicate-key */
		"[Peer]\n"							/* 14 missing-public-key */
		"AllowedIPs = 198.18.0.0/33\n"					/* 15 bad-value */
		"AllowedIPs = 198.18.0.9/24\n"					/* 16 host-bits */
		"[Peer]\n"							/* 17 */
		"PublicKey = Nh8YP4vd3Dt1tBQ+HH0PDEmgd3Nfb9tb/fhv12bx5nI=\n"	/* 18 */
		"PersistentKeepalive = 25s\n"					/* 19 bad-value */
		"Endpoint = 203.0.113.10:51820\n";				/* 20 fine */
	struct config cfg;
	struct diag_list diags;

	parse(text, &cfg, &diags);
	CHECK(has(&diags, 1, "syntax"));
	CHECK(has(&diags, 3, "bad-value"));
	CHECK(has(&diags, 4, "bad-value"));
	CHECK(has(&diags, 5, "unknown-key"));
	CHECK(has(&diags, 7, "syntax"));
	CHECK(has(&diags, 8, "unknown-key"));
	CHECK(has(&diags, 9, "unknown-section"));
	CHECK(has(&diags, 11, "duplicate-interface"));
	CHECK(has(&diags, 13, "duplicate-key"));
	CHECK(has(&diags, 14, "missing-public-key"));
	CHECK(has(&diags, 15, "bad-value"));
	CHECK(has(&diags, 16, "host-bits"));
	CHECK(has(&diags, 19, "bad-value"));
	/* A PrivateKey that was there but malformed is not also "missing". */
	CHECK(!has(&diags, 2, "no-private-key"));
	if (!CHECK(diags.n == 13))
		dump(&diags);
	CHECK(diag_count(&diags, DIAG_ERROR) == 11 && diag_count(&diags, DIAG_WARNING) == 2);
	/* What was fine is there, the last of a repeated key winning. */
	CHECK(cfg.iface.line == 2 && cfg.iface.mtu == 1280 && cfg.iface.mtu_line == 13);
	CHECK(cfg.iface.fwmark == 12 && !cfg.iface.private_key_line && !cfg.iface.listen_port_line);
	CHECK(cfg.n_peers == 2 && cfg.peers[0].n_allowed_ips == 1);
	CHECK(cfg.peers[1].endpoint.line == 20 && !cfg.peers[1].persistent_keepalive_line);
	done(&cfg, &diags);
}

static bool any_message(const struct diag_list *diags, const char *text)
{
	for (size_t i = 0; i < diags->n; i++)
		if (strstr(diags->v[i].message, text))
			return true;
	return false;
}

static void test_messages(void)
{
	struct config cfg;
	struct diag_list diags;

	parse("[Interface]\nAddress = 198.18.0.1/24\n[Peer]\nAllowedIP = 198.18.0.0/24\nDNS = 198.18.0.1\n"
	      "PublicKey = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n",
	      &cfg, &diags);
	CHECK(diags.n == 3);
	CHECK(has(&diags, 1, "no-private-key"));
	CHECK(diags.n >= 3 && strstr(diags.v[0].message, "did you mean AllowedIPs?") != NULL);
	CHECK(diags.n >= 3 && !strcmp(diags.v[1].message, "DNS belongs in [Interface], not in [Peer]"));
	CHECK(diags.n >= 3 && !strcmp(diags.v[0].file, "t.conf"));
	done(&cfg, &diags);

	/* A malformed key is never echoed: it may be a secret with a typo. */
	parse("[Interface]\nPrivateKey = SECRETSECRETSECRET\n", &cfg, &diags);
	CHECK(diags.n == 1 && !strstr(diags.v[0].message, "SECRET"));
	done(&cfg, &diags);

	/* Long or binary values are cut and made printable. */
	parse("[Interface]\nPrivateKey = iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\nMTU = \x01xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
	      "[Peer]\nPublicKey = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n",
	      &cfg, &diags);
	CHECK(diags.n == 1 && strstr(diags.v[0].message, "'?xxx") && strstr(diags.v[0].message, "...'"));
	done(&cfg, &diags);
	/* A binary file: one error, at the first NUL, however many there are. */
	config_parse_string("t.conf", "[Peer]\nEndpoint = a\0b:1\n\0\n\0\0\n", 30, &cfg, &diags);
	CHECK(diags.n == 1 && has(&diags, 2, "syntax") && strstr(diags.v[0].message, "NUL"));
	done(&cfg, &diags);

	/* Messages quote the line as written, spaces included. */
	parse("[Interface]\nhello world\n[My Peer]\n", &cfg, &diags);
	CHECK(diags.n == 3 && any_message(&diags, "'hello world'") && any_message(&diags, "'[My Peer]'"));
	done(&cfg, &diags);
	parse("[Interface]\nPrivate Keyy = x\n", &cfg, &diags);
	CHECK(any_message(&diags, "'Private Keyy'"));
	done(&cfg, &diags);
	parse("[Peer]\nZap  Zing = 1\n", &cfg, &diags);
	CHECK(any_message(&diags, "unknown key 'Zap  Zing'"));
	done(&cfg, &diags);
}

/* Every message about a bad value quotes it as the file has it: the text
 * after '=' trimmed at both ends, inner spaces kept (the parser itself
 * reads it without them, as wg does). In a list, the entry as written. */
static void test_values_quoted_as_written(void)
{
	static const struct {
		const char *line, *quoted;
	} cases[] = {
		{ "[Interface]\nListenPort =  51 82x  \n", "ListenPort '51 82x' " },
		{ "[Interface]\nFwMark = 0x 1g\n", "FwMark '0x 1g' " },
		{ "[Interface]\nAddress = 198.18.0.2/32,  198.18. 0.300/24 \n", "Address '198.18. 0.300/24' " },
		{ "[Interface]\nDNS = 198.18.0.1 ,not a  domain!\n", "DNS 'not a  domain!' " },
		{ "[Interface]\nMTU = 1 4 x\n", "MTU '1 4 x' " },
		{ "[Interface]\nTable = a b!\n", "Table 'a b!' " },
		{ "[Interface]\nSaveConfig = tr ue x\n", "SaveConfig 'tr ue x' " },
		{ "[Peer]\nEndpoint = 203.0.113.10 : 5 1x\n", "Endpoint '203.0.113.10 : 5 1x' " },
		{ "[Peer]\nEndpoint = fd00 ::1:51820\n", "Endpoint 'fd00 ::1:51820': " },
		{ "[Peer]\nEndpoint = [fd00:: 1:51820\n", "Endpoint '[fd00:: 1:51820' " },
		{ "[Peer]\nAllowedIPs = 198.18.0.0/24, 198.18.1.0/ 33 # comment\n", "AllowedIPs '198.18.1.0/ 33' " },
		{ "[Peer]\nPersistentKeepalive = 2 5 s\n", "PersistentKeepalive '2 5 s' " },
		/* Keys are not quoted (they may be secret), their spaces counted. */
		{ "[Peer]\nPublicKey = hello world\n", "this has 10 and 1 space" },
		{ "[Interface]\nPrivateKey = a b  c\n", "this has 3 and 3 spaces" },
		{ "[Peer]\nPresharedKey = GOSLNvYMFN0UbV2617ceMmvm4heXYtbp1JjQyDV8rm x=\n",
		  "44 characters long besides its spaces" },
	};
	struct config cfg;
	struct diag_list diags;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(cases[i].line, &cfg, &diags);
		if (!any_message(&diags, cases[i].quoted)) {
			fprintf(stderr, "  no message with \"%s\" for %s", cases[i].quoted, cases[i].line);
			for (size_t j = 0; j < diags.n; j++)
				fprintf(stderr, "    got: %s\n", diags.v[j].message);
			CHECK(false);
		}
		done(&cfg, &diags);
	}
	/* roam up's Table message reads the value as written too. */
	parse("[Interface]\nTable = my table\n", &cfg, &diags);
	CHECK(cfg.iface.table && !strcmp(cfg.iface.table, "mytable"));
	CHECK(cfg.iface.table_written && !strcmp(cfg.iface.table_written, "my table"));
	done(&cfg, &diags);
}

static void test_endpoints(void)
{
	static const struct {
		const char *value;
		bool ok, literal;
		const char *host;
		uint16_t port;
	} cases[] = {
		{ "203.0.113.10:51820", true, true, "203.0.113.10", 51820 },
		{ "[fd00:1::10]:1", true, true, "fd00:1::10", 1 },
		{ "vpn.example.net:65535", true, false, "vpn.example.net", 65535 },
		{ "vpn.example.net.:443", true, false, "vpn.example.net.", 443 },
		{ "my_host-1:51820", true, false, "my_host-1", 51820 },
		{ "fd00:1::10:51820", false, false, NULL, 0 },	/* brackets needed */
		{ "[fd00:1::10]51820", false, false, NULL, 0 },
		{ "[fd00:1::10:51820", false, false, NULL, 0 },
		{ "[198.18.0.1]:51820", false, false, NULL, 0 },
		{ "[vpn.example.net]:51820", false, false, NULL, 0 },
		{ "203.0.113.10", false, false, NULL, 0 },
		{ "203.0.113.10:", false, false, NULL, 0 },
		{ "203.0.113.10:0", false, false, NULL, 0 },
		{ "203.0.113.10:65536", false, false, NULL, 0 },
		{ "203.0.113.10:http", false, false, NULL, 0 },
		{ "203.0.113.300:51820", false, false, NULL, 0 },	/* digits: must be an address */
		{ "203.0.113.10/32:51820", false, false, NULL, 0 },
		{ ":51820", false, false, NULL, 0 },
		{ "a..b:51820", false, false, NULL, 0 },
		{ "host!:51820", false, false, NULL, 0 },
	};
	struct config cfg;
	struct diag_list diags;
	const struct config_endpoint *ep;
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nEndpoint = %s\n", PUB, cases[i].value);
		parse(text, &cfg, &diags);
		ep = &cfg.peers[0].endpoint;
		if (cases[i].ok) {
			if (!CHECK(diags.n == 0 && ep->line == 3))
				fprintf(stderr, "  endpoint '%s' was rejected\n", cases[i].value);
			else
				CHECK(ep->is_literal == cases[i].literal && !strcmp(ep->host, cases[i].host) &&
				      ep->port == cases[i].port);
		} else if (!CHECK(diags.n == 1 && has(&diags, 3, "bad-value") && ep->line == 0)) {
			fprintf(stderr, "  endpoint '%s' was accepted\n", cases[i].value);
		}
		done(&cfg, &diags);
	}
}

/* Each value that must parse, and each that must not, per key. */
static void test_values(void)
{
	static const struct {
		const char *section, *line;
		bool ok;
	} cases[] = {
		{ "Interface", "ListenPort = 0", true },
		{ "Interface", "ListenPort = 65535", true },
		{ "Interface", "ListenPort = 65536", false },
		{ "Interface", "ListenPort = -1", false },
		{ "Interface", "ListenPort = ", false },
		{ "Interface", "ListenPort = no-such-service-here", false },
		{ "Interface", "FwMark = off", true },
		{ "Interface", "FwMark = OFF", true },
		{ "Interface", "FwMark = 4294967295", true },
		{ "Interface", "FwMark = 4294967296", false },
		{ "Interface", "FwMark = 0xffffffff", true },
		{ "Interface", "FwMark = 0x100000000", false },
		{ "Interface", "FwMark = 0x", false },
		{ "Interface", "FwMark = 0xg", false },
		{ "Interface", "Address = 198.18.0.1", true },
		{ "Interface", "Address = 198.18.0.1/24,fd00::1/64", true },
		{ "Interface", "Address = 198.18.0.1/24,", false },
		{ "Interface", "Address = vpn.example.net", false },
		{ "Interface", "DNS = 198.18.0.1, fd00::53, corp.example, example", true },
		{ "Interface", "DNS = 198.18.0.0/24", false },
		{ "Interface", "DNS = bad!domain", false },
		{ "Interface", "MTU = 68", true },
		{ "Interface", "MTU = 67", false },
		{ "Interface", "MTU = 65536", false },
		{ "Interface", "MTU = auto", false },
		{ "Interface", "Table = auto", true },
		{ "Interface", "Table = 1234", true },
		{ "Interface", "Table = vpn_routes", true },
		{ "Interface", "Table = ", false },
		{ "Interface", "Table = a;b", false },
		{ "Interface", "SaveConfig = True", true },
		{ "Interface", "SaveConfig = false", true },
		{ "Interface", "SaveConfig = 1", false },
		{ "Interface", "PostUp = ", true },
		{ "Peer", "PresharedKey = W17fgg8MJMJP+XRFel4sShKmB5g12J9uLzZQi7PfV/8=", true },
		{ "Peer", "PresharedKey = W17fgg8MJMJP+XRFel4sShKmB5g12J9uLzZQi7PfV/9=", false },
		{ "Peer", "AllowedIPs = ", true },	/* wg: no allowed IPs */
		{ "Peer", "AllowedIPs = 0.0.0.0/0, ::/0", true },
		{ "Peer", "AllowedIPs = 198.18.0.0/24,,fd00::/64", false },
		{ "Peer", "AllowedIPs = +198.18.0.0/24", false },
		{ "Peer", "PersistentKeepalive = off", true },
		{ "Peer", "PersistentKeepalive = 0", true },
		{ "Peer", "PersistentKeepalive = 65535", true },
		{ "Peer", "PersistentKeepalive = 65536", false },
	};
	struct config cfg;
	struct diag_list diags;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\n%s%s\n%s\n", cases[i].section,
			 cases[i].section[0] == 'P' ? "PublicKey = " : "PrivateKey = ",
			 cases[i].section[0] == 'P' ? PUB : PRIV, cases[i].line);
		parse(text, &cfg, &diags);
		if (!CHECK((diags.n == 0) == cases[i].ok && (cases[i].ok || has(&diags, 3, "bad-value")))) {
			fprintf(stderr, "  '%s' should %s\n", cases[i].line, cases[i].ok ? "parse" : "fail");
			dump(&diags);
		}
		done(&cfg, &diags);
	}
}

static void test_listen_port_service(void)
{
	struct config cfg;
	struct diag_list diags;
	struct servent *se = getservbyname("domain", "udp");

	/* Only where /etc/services knows the name (wg resolves it too). */
	if (!se)
		return;
	parse("[Interface]\nListenPort = domain\n", &cfg, &diags);
	CHECK(cfg.iface.listen_port == 53 && cfg.iface.listen_port_line == 2);
	done(&cfg, &diags);
}

/* The last of two equal single-valued keys wins, as in wg, with a warning;
 * repeatable keys accumulate. */
static void test_repeats(void)
{
	struct config cfg;
	struct diag_list diags;
	uint8_t key[32];

	parse("[Interface]\nPrivateKey = iGufwqTKk5ZZX5HtrXaS8OL0RAzRRzIxGGwOUWRn32w=\n"
	      "PrivateKey = GOSLNvYMFN0UbV2617ceMmvm4heXYtbp1JjQyDV8rmw=\nAddress = 198.18.0.1\nAddress = fd00::1\n"
	      "[Peer]\nPublicKey = 2Ip+ppbPeN0pir4D3ae8zP4m7LCjwdGi7DqQWNM+bDk=\n"
	      "PublicKey = Nh8YP4vd3Dt1tBQ+HH0PDEmgd3Nfb9tb/fhv12bx5nI=\nEndpoint = 203.0.113.1:1\n"
	      "Endpoint = vpn.example.net:2\n",
	      &cfg, &diags);
	CHECK(diags.n == 3 && has(&diags, 3, "duplicate-key") && has(&diags, 8, "duplicate-key") &&
	      has(&diags, 10, "duplicate-key"));
	key_from_base64(key, "GOSLNvYMFN0UbV2617ceMmvm4heXYtbp1JjQyDV8rmw=");
	CHECK(cfg.iface.private_key_line == 3 && !memcmp(cfg.iface.private_key, key, 32));
	CHECK(cfg.iface.n_addresses == 2);
	key_from_base64(key, PUB2);
	CHECK(cfg.peers[0].public_key_line == 8 && !memcmp(cfg.peers[0].public_key, key, 32));
	CHECK(!strcmp(cfg.peers[0].endpoint.host, "vpn.example.net") && cfg.peers[0].endpoint.port == 2);
	CHECK(!cfg.peers[0].endpoint.is_literal);
	done(&cfg, &diags);
}

/* 70,000 AllowedIPs on one line: arrays grow without quadratic copying
 * and every entry survives. */
static void test_many_allowed_ips(void)
{
	enum { N = 70000 };
	struct config cfg;
	struct diag_list diags;
	char *text = malloc((size_t)N * 20 + 64), *s = text;
	size_t i;
	bool ok = true;

	s += sprintf(s, "[Peer]\nPublicKey = %s\nAllowedIPs = ", PUB);
	for (i = 0; i < N; i++)
		s += sprintf(s, "%s198.18.%zu.%zu", i ? "," : "", i / 256 % 256, i % 256);
	parse(text, &cfg, &diags);
	CHECK(diags.n == 0 && cfg.peers[0].n_allowed_ips == N);
	for (i = 0; i < cfg.peers[0].n_allowed_ips && ok; i++)
		ok = cfg.peers[0].allowed_ips[i].prefix.addr[2] == i / 256 % 256 &&
		     cfg.peers[0].allowed_ips[i].prefix.addr[3] == i % 256;
	CHECK(ok);
	done(&cfg, &diags);
	free(text);
}

static void test_diag_sort_stable(void)
{
	struct diag_list diags = { 0 };

	diag_add(&diags, "f", 5, DIAG_WARNING, "b", "first on 5");
	diag_add(&diags, "f", 2, DIAG_ERROR, "a", "on 2");
	diag_add(&diags, "f", 5, DIAG_ERROR, "c", "second on 5");
	diag_add(&diags, "f", 0, DIAG_INFO, "d", "file");
	diag_sort(&diags);
	CHECK(diags.v[0].line == 0 && diags.v[1].line == 2);
	CHECK(!strcmp(diags.v[2].message, "first on 5") && !strcmp(diags.v[3].message, "second on 5"));
	CHECK(diag_count(&diags, DIAG_ERROR) == 2 && diag_count(&diags, DIAG_INFO) == 1);
	diag_list_free(&diags);
	CHECK(diags.n == 0 && diags.v == NULL);
}

static void test_parse_file(void)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[64];
	struct config cfg;
	struct diag_list diags = { 0 };
	FILE *f;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/wg0.conf", dir);
	CHECK(config_parse_file(path, &cfg, &diags) == -ENOENT);
	config_free(&cfg);
	CHECK(config_parse_file(dir, &cfg, &diags) == -EISDIR);
	config_free(&cfg);
	f = fopen(path, "w");
	fprintf(f, "[Interface]\nPrivateKey = %s\n[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.0.0/24\n", PRIV, PUB);
	fclose(f);
	chmod(path, 0640);
	CHECK(config_parse_file(path, &cfg, &diags) == 0);
	CHECK(diags.n == 0 && cfg.mode == 0640 && !strcmp(cfg.path, path));
	CHECK(cfg.iface.private_key_line == 2 && cfg.n_peers == 1 && cfg.peers[0].n_allowed_ips == 1);
	done(&cfg, &diags);
	unlink(path);
	rmdir(dir);
}

/* "#roam: Endpoint" directives: extra addresses in order, duplicates
 * warned about and dropped, more than 15 refused, one without Endpoint an
 * error, an unknown directive an error; an ordinary comment that merely
 * mentions roam stays a comment. */
static void test_extra_endpoints(void)
{
	struct config cfg;
	struct diag_list d;
	char text[4096];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text),
			     "[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.0.0/24\nEndpoint = 192.0.2.1:51820\n"
			     "#roam: Endpoint = [fd00::1]:51820\n"
			     "  #ROAM: endpoint=vpn.example.org:443\n"
			     "#roam: Endpoint = 192.0.2.1:51820\n"
			     "# roam: Endpoint = 203.0.113.9:1 (a plain comment: space after #)\n"
			     "#roam: Endpoint = [fd00::1]:51820\n",
			     PUB);
	parse(text, &cfg, &d);
	CHECK(cfg.n_peers == 1 && cfg.peers[0].n_extra_endpoints == 2);
	if (cfg.n_peers == 1 && cfg.peers[0].n_extra_endpoints == 2) {
		const struct config_endpoint *x = cfg.peers[0].extra_endpoints;
		CHECK(x[0].is_literal && x[0].addr.family == AF_INET6 && x[0].port == 51820 && x[0].line == 5);
		CHECK(!x[1].is_literal && !strcmp(x[1].host, "vpn.example.org") && x[1].port == 443 && x[1].line == 6);
	}
	CHECK(has(&d, 7, "duplicate-endpoint") && has(&d, 9, "duplicate-endpoint"));
	CHECK(diag_count(&d, DIAG_ERROR) == 0);
	done(&cfg, &d);

	n = (size_t)snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nEndpoint = 192.0.2.1:1\n", PUB);
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "#roam: Endpoint = 192.0.2.%d:2\n", i + 2);
	parse(text, &cfg, &d);
	CHECK(cfg.peers[0].n_extra_endpoints == CONFIG_MAX_ENDPOINTS - 1);
	CHECK(has(&d, 19, "too-many-endpoints") && !has(&d, 18, "too-many-endpoints"));
	done(&cfg, &d);

	n = (size_t)snprintf(text, sizeof(text),
			     "[Interface]\n#roam: Endpoint = 192.0.2.1:1\n[Peer]\nPublicKey = %s\n"
			     "#roam: Endpoint = 192.0.2.2:1\n#roam: Keepalive = 5\n#roam: Endpoint = nowhere\n",
			     PUB);
	parse(text, &cfg, &d);
	CHECK(has(&d, 2, "unknown-directive"));
	CHECK(has(&d, 5, "missing-endpoint"));
	CHECK(has(&d, 6, "unknown-directive"));
	CHECK(has(&d, 7, "bad-value"));
	(void)n;
	done(&cfg, &d);
}

int main(void)
{
	RUN(test_base64_known);
	RUN(test_base64_every_byte);
	RUN(test_base64_rejects);
	RUN(test_prefix_parse);
	RUN(test_prefix_relations);
	RUN(test_full_file);
	RUN(test_line_rules);
	RUN(test_errors_keep_going);
	RUN(test_messages);
	RUN(test_values_quoted_as_written);
	RUN(test_endpoints);
	RUN(test_extra_endpoints);
	RUN(test_values);
	RUN(test_listen_port_service);
	RUN(test_repeats);
	RUN(test_many_allowed_ips);
	RUN(test_diag_sort_stable);
	RUN(test_parse_file);
	return test_finish("test_config");
}
