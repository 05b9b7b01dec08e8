/* roam metrics [IFNAME] [OPTIONS]: see metrics.h for the two spellings.
 * Figures come straight from the UAPI reply; durations are converted to
 * seconds, Prometheus's base unit. A family whose figure no interface has
 * (every roam_* one against wireguard-go) is left out rather than printed
 * empty. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "outbuf.h"
#include "show.h"
#include "state.h"

#define METRICS_SYNOPSIS \
	"roam metrics [IFNAME] [--openmetrics] [--compat=prometheus_wireguard_exporter] [--config FILE] [--listen ADDR:PORT]"

static const char metrics_usage[] =
	"Usage: " METRICS_SYNOPSIS "\n"
	"\n"
	"Prints the figures of one interface, or of every interface with a socket in\n"
	UAPI_SOCKET_DIR ", for Prometheus. Labels: interface, public_key (peers), reason\n"
	"(drops). Counters end in _total; durations are in seconds; the output ends with\n"
	"'# EOF'. Against wireguard-go only the standard figures appear (bytes, handshake,\n"
	"keepalive, up). The endpoint is a label of roam_peer_info only, so a peer that\n"
	"roams changes no other series.\n"
	"\n"
	"The default spelling is the Prometheus text format 0.0.4 (checked by 'promtool\n"
	"check metrics'); --openmetrics names counter families without _total, as\n"
	"OpenMetrics 1.0 requires (see the top of src/roam/metrics.h).\n"
	"\n"
	"  --compat=prometheus_wireguard_exporter\n"
	"        also the series of that exporter (MindFlavor's), as its dashboards expect:\n"
	"        wireguard_sent_bytes_total, wireguard_received_bytes_total,\n"
	"        wireguard_latest_handshake_seconds (a Unix time, as there), labels interface,\n"
	"        public_key, allowed_ips and friendly_name (not its wireguard_peers_total, a\n"
	"        gauge named like a counter: roam_interface_peers is that figure)\n"
	"  --config FILE\n"
	"        where friendly_name comes from: a '# friendly_name = NAME' comment in a\n"
	"        [Peer] section (needs IFNAME). Without it: the file 'roam up' read, else\n"
	"        /etc/wireguard/IFNAME.conf when readable. Shown on roam_peer_info and the\n"
	"        --compat series.\n"
	"  --listen ADDR:PORT\n"
	"        serve GET /metrics over HTTP until SIGINT/SIGTERM instead of printing once;\n"
	"        ADDR:PORT, [IPV6]:PORT or :PORT (every address). Each scrape asks anew.\n"
	"\n"
	"Exit status: 0 success, 1 an interface could not be read (or the server could\n"
	"not start), 2 usage error.\n";

enum family_id {
	IF_ANSWERED,
	IF_LISTEN_PORT,
	IF_PEERS,
	IF_CONNECTED_PEERS,
	IF_EXTENDED,
	IF_UNDER_LOAD,
	IF_DROPS,
	PEER_RX_BYTES,
	PEER_TX_BYTES,
	PEER_RX_PACKETS,
	PEER_TX_PACKETS,
	PEER_HANDSHAKE_TIME,
	PEER_HANDSHAKE_AGE,
	PEER_HANDSHAKE_FRESH,
	PEER_UP,
	PEER_SESSION,
	PEER_HANDSHAKE_ATTEMPTS,
	PEER_LAST_RECEIVE_AGE,
	PEER_KEEPALIVE,
	PEER_DROPS,
	PEER_ENDPOINT_CHANGES,
	PEER_NAT_REBINDS,
	PEER_NAT_LOST_IDLE,
	PEER_NAT_KEPT_IDLE,
	PEER_SUGGESTED_KEEPALIVE,
	PEER_PATH_MTU,
	PEER_PATH_INNER_MTU,
	PEER_INFO,
	/* prometheus_wireguard_exporter's, with --compat */
	WG_SENT_BYTES,
	WG_RECEIVED_BYTES,
	WG_LATEST_HANDSHAKE,
	/* Not its wireguard_peers_total: a gauge named like a counter, which
	 * promtool rejects; roam_interface_peers is the same figure. */
};

/* Which labels a family's samples carry. The endpoint is on the _info
 * series only: a peer that roams changes that one series' labels and no
 * other's, so roaming never multiplies the series a server stores. */
enum label_set {
	LABELS_INTERFACE,	/* interface */
	LABELS_PEER,		/* interface, public_key */
	LABELS_EXPORTER,	/* interface, public_key, allowed_ips[, friendly_name] */
	LABELS_INFO,		/* interface, public_key, endpoint, allowed_ips[, friendly_name] */
};

struct family {
	enum family_id id;
	const char *name;	/* as the samples are named */
	bool counter;
	const char *unit;	/* NULL: none */
	const char *help;
	enum label_set labels;
	bool compat;		/* only with --compat=prometheus_wireguard_exporter */
};

static const struct family families[] = {
	{ IF_ANSWERED, "roam_interface_answered", false, NULL,
	  "1 when the interface's daemon answered this scrape; 0 when its UAPI socket is there but it did not "
	  "(stopped, hung, or the socket is a dead daemon's): its other series are missing from this scrape.",
	  LABELS_INTERFACE, false },
	{ IF_LISTEN_PORT, "roam_interface_listen_port", false, NULL,
	  "UDP port the interface listens on; 0 when it does not listen.", LABELS_INTERFACE, false },
	{ IF_PEERS, "roam_interface_peers", false, NULL, "Peers configured on the interface.", LABELS_INTERFACE, false },
	{ IF_CONNECTED_PEERS, "roam_interface_connected_peers", false, NULL,
	  "Peers that are up (see roam_peer_up).", LABELS_INTERFACE, false },
	{ IF_EXTENDED, "roam_interface_extended", false, NULL,
	  "1 when the daemon is roamd and the roam details are present, 0 for wireguard-go.", LABELS_INTERFACE, false },
	{ IF_UNDER_LOAD, "roam_interface_under_load", false, NULL,
	  "1 while the interface is under handshake load and asks for cookies.", LABELS_INTERFACE, false },
	{ IF_DROPS, "roam_interface_dropped_packets_total", true, "packets",
	  "Packets dropped by the interface, all peers and unknown senders, by cause.", LABELS_INTERFACE, false },
	{ PEER_RX_BYTES, "roam_peer_received_bytes_total", true, "bytes",
	  "UDP payload bytes received from the peer, handshakes included.", LABELS_PEER, false },
	{ PEER_TX_BYTES, "roam_peer_sent_bytes_total", true, "bytes",
	  "UDP payload bytes sent to the peer, handshakes included.", LABELS_PEER, false },
	{ PEER_RX_PACKETS, "roam_peer_received_packets_total", true, "packets",
	  "Authenticated packets received from the peer.", LABELS_PEER, false },
	{ PEER_TX_PACKETS, "roam_peer_sent_packets_total", true, "packets", "Packets sent to the peer.", LABELS_PEER, false },
	{ PEER_HANDSHAKE_TIME, "roam_peer_last_handshake_timestamp_seconds", false, "seconds",
	  "Unix time of the last completed handshake; 0 if none.", LABELS_PEER, false },
	{ PEER_HANDSHAKE_AGE, "roam_peer_handshake_age_seconds", false, "seconds",
	  "Time since the last completed handshake; absent if none.", LABELS_PEER, false },
	{ PEER_HANDSHAKE_FRESH, "roam_peer_handshake_fresh", false, NULL,
	  "1 if the last handshake is under 3 minutes old (a session can be current), else 0.", LABELS_PEER, false },
	{ PEER_UP, "roam_peer_up", false, NULL,
	  "1 while the peer is up: a usable session (roamd), or a handshake under 3 minutes old (wireguard-go).",
	  LABELS_PEER, false },
	{ PEER_SESSION, "roam_peer_session_established", false, NULL, "1 while the peer has a usable session.", LABELS_PEER, false },
	{ PEER_HANDSHAKE_ATTEMPTS, "roam_peer_handshake_attempts", false, NULL,
	  "Handshake initiations sent since the last completed handshake.", LABELS_PEER, false },
	{ PEER_LAST_RECEIVE_AGE, "roam_peer_last_receive_age_seconds", false, "seconds",
	  "Time since an authenticated packet last came from the peer; absent if none ever did.", LABELS_PEER, false },
	{ PEER_KEEPALIVE, "roam_peer_persistent_keepalive_seconds", false, "seconds",
	  "Persistent keepalive interval; 0 when off.", LABELS_PEER, false },
	{ PEER_DROPS, "roam_peer_dropped_packets_total", true, "packets", "Packets from or to the peer dropped, by cause.", LABELS_PEER, false },
	{ PEER_ENDPOINT_CHANGES, "roam_peer_endpoint_changes_total", true, NULL,
	  "Times the peer's endpoint moved (roaming or NAT rebinding).", LABELS_PEER, false },
	{ PEER_NAT_REBINDS, "roam_peer_nat_rebinds_total", true, NULL,
	  "Endpoint changes after an idle gap: a NAT forgot the mapping.", LABELS_PEER, false },
	{ PEER_NAT_LOST_IDLE, "roam_peer_nat_mapping_lost_idle_seconds", false, "seconds",
	  "Shortest idle gap after which a NAT mapping was lost; NaN without evidence.", LABELS_PEER, false },
	{ PEER_NAT_KEPT_IDLE, "roam_peer_nat_mapping_kept_idle_seconds", false, "seconds",
	  "Longest idle gap a NAT mapping survived; NaN without evidence.", LABELS_PEER, false },
	{ PEER_SUGGESTED_KEEPALIVE, "roam_peer_suggested_keepalive_seconds", false, "seconds",
	  "Persistent keepalive the NAT evidence suggests; NaN without evidence.", LABELS_PEER, false },
	{ PEER_PATH_MTU, "roam_peer_path_mtu_bytes", false, "bytes",
	  "Largest outer packet the path to the peer carries, as learnt (ICMP, the outgoing interface, probes); "
	  "NaN while nothing is learnt and the interface MTU applies.", LABELS_PEER, false },
	{ PEER_PATH_INNER_MTU, "roam_peer_path_inner_mtu_bytes", false, "bytes",
	  "Largest inner packet that fits the peer's path; NaN while nothing is learnt.", LABELS_PEER, false },
	{ PEER_INFO, "roam_peer_info", false, NULL,
	  "Always 1; the labels say where the peer is (endpoint), where its path MTU comes from (path_mtu_origin: "
	  "interface, icmp, local, probe), what it routes and its friendly_name. "
	  "The only series whose labels change when the peer roams.", LABELS_INFO, false },
	{ WG_SENT_BYTES, "wireguard_sent_bytes_total", true, NULL, "Bytes sent to the peer", LABELS_EXPORTER, true },
	{ WG_RECEIVED_BYTES, "wireguard_received_bytes_total", true, NULL, "Bytes received from the peer",
	  LABELS_EXPORTER, true },
	{ WG_LATEST_HANDSHAKE, "wireguard_latest_handshake_seconds", false, NULL,
	  "Seconds from the last handshake", LABELS_EXPORTER, true },
};

enum { N_FAMILIES = sizeof(families) / sizeof(families[0]) };

void metrics_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A figure: an integer, or milliseconds shown as seconds. */
struct value {
	uint64_t v;
	bool ms;
	bool nan;	/* no evidence (yet): NaN keeps the series in place */
};

/* Up: a session to send on. wireguard-go does not say whether it has one,
 * so there a handshake young enough to have made one stands in. */
static bool peer_is_up(const struct uapi_device *d, const struct uapi_peer *p, uint64_t now_ms)
{
	uint64_t age_ms;

	if (d->extended)
		return p->has_session;
	return peer_handshake_verdict(p, now_ms, &age_ms) == HANDSHAKE_FRESH;
}

static bool device_value(enum family_id id, const struct uapi_device *d, uint64_t now_ms, struct value *out)
{
	*out = (struct value){ 0 };
	if (id == IF_ANSWERED) {
		out->v = !d->unanswered;
		return true;
	}
	if (d->unanswered)
		return false;
	switch (id) {
	case IF_LISTEN_PORT:
		out->v = d->listen_port;
		return true;
	case IF_PEERS:
		out->v = d->n_peers;
		return true;
	case IF_CONNECTED_PEERS:
		for (size_t i = 0; i < d->n_peers; i++)
			out->v += peer_is_up(d, &d->peers[i], now_ms);
		return true;
	case IF_EXTENDED:
		out->v = d->extended;
		return true;
	case IF_UNDER_LOAD:
		out->v = d->under_load;
		return d->extended;
	default:
		return false;
	}
}

static bool peer_value(enum family_id id, const struct uapi_device *d, const struct uapi_peer *p, uint64_t now_ms,
		       struct value *out)
{
	uint64_t age_ms;

	*out = (struct value){ 0 };
	switch (id) {
	case PEER_RX_BYTES:
	case WG_RECEIVED_BYTES:
		out->v = p->rx_bytes;
		return true;
	case PEER_TX_BYTES:
	case WG_SENT_BYTES:
		out->v = p->tx_bytes;
		return true;
	case PEER_HANDSHAKE_TIME:
	case WG_LATEST_HANDSHAKE:	/* despite its name, a Unix time, as that exporter has it */
		out->v = p->last_handshake_sec;
		return true;
	case PEER_UP:
		out->v = peer_is_up(d, p, now_ms);
		return true;
	case PEER_INFO:
		out->v = 1;
		return true;
	case PEER_HANDSHAKE_AGE:
		out->ms = true;
		return peer_handshake_verdict(p, now_ms, &out->v) != HANDSHAKE_NEVER;
	case PEER_HANDSHAKE_FRESH:
		out->v = peer_handshake_verdict(p, now_ms, &age_ms) == HANDSHAKE_FRESH;
		return true;
	case PEER_KEEPALIVE:
		out->v = p->persistent_keepalive;
		return true;
	default:
		break;
	}
	if (!d->extended)
		return false;
	switch (id) {
	case PEER_RX_PACKETS:
		out->v = p->rx_packets;
		return true;
	case PEER_TX_PACKETS:
		out->v = p->tx_packets;
		return true;
	case PEER_SESSION:
		out->v = p->has_session;
		return true;
	case PEER_HANDSHAKE_ATTEMPTS:
		out->v = p->handshake_attempts;
		return true;
	case PEER_LAST_RECEIVE_AGE:
		*out = (struct value){ p->last_receive_age_ms, true, false };
		return p->has_last_receive_age;
	case PEER_ENDPOINT_CHANGES:
		out->v = p->endpoint_changes;
		return true;
	case PEER_NAT_REBINDS:
		out->v = p->nat_rebinds;
		return true;
	/* What a roam may teach (NAT behaviour, a path's MTU) is NaN until
	 * it does: a roam must change the values, never the set of series. */
	case PEER_NAT_LOST_IDLE:
		*out = (struct value){ p->nat_rebound_min_idle_ms, true, !p->nat_rebound_min_idle_ms };
		return true;
	case PEER_NAT_KEPT_IDLE:
		*out = (struct value){ p->nat_kept_max_idle_ms, true, !p->nat_kept_max_idle_ms };
		return true;
	case PEER_SUGGESTED_KEEPALIVE:
		*out = (struct value){ p->suggested_keepalive, false, !p->suggested_keepalive };
		return true;
	case PEER_PATH_MTU:
		*out = (struct value){ p->path_mtu, false, !p->path_mtu };
		return true;
	case PEER_PATH_INNER_MTU:
		*out = (struct value){ p->path_inner_mtu, false, !p->path_inner_mtu };
		return true;
	default:
		return false;
	}
}

/* The label text of every peer, made once per exposition rather than once
 * per sample (base64 and escaping would otherwise dominate a scrape of
 * 100,000 peers), in one block: each peer's three parts follow each other,
 * so roam_peer_info's labels are a single copy. */
struct peer_labels {
	size_t at;		/* where the peer's text starts in the block */
	size_t peer;		/* interface="...",public_key="..." */
	size_t where;		/* ,endpoint="..."[,path_mtu_origin="..."] */
	size_t routes;		/* ,allowed_ips="..."[,friendly_name="..."] */
};

struct exposition {
	const struct uapi_device *devs;
	size_t n;
	struct peer_labels **labels;	/* [device][peer] */
	char *label_text;		/* the block */
	uint64_t now_ms;
	const struct metrics_options *opt;
};

/* metrics_label_value into the buffer; plain runs are copied whole. */
static void label_value(struct outbuf *o, const char *s)
{
	size_t plain;

	for (;;) {
		plain = strcspn(s, "\\\"\n");
		outbuf_put(o, s, plain);
		s += plain;
		if (!*s)
			return;
		outbuf_put(o, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n", 2);
		s++;
	}
}

/* name="value", escaped, after a comma unless first. */
static void put_label(struct outbuf *o, bool first, const char *name, const char *value)
{
	if (!first)
		outbuf_putc(o, ',');
	outbuf_puts(o, name);
	outbuf_put(o, "=\"", 2);
	label_value(o, value);
	outbuf_putc(o, '"');
}

static void peer_labels_make(struct outbuf *text, struct peer_labels *l, const struct uapi_device *d,
			     const struct uapi_peer *p, const struct peer_names *names)
{
	char b64[KEY_B64_LEN + 1], prefix[IP_PREFIX_STRLEN];
	const char *name = peer_names_find(names, p->public_key);
	size_t start;

	key_to_base64(b64, p->public_key);
	l->at = text->len;
	put_label(text, true, "interface", d->name);
	put_label(text, false, "public_key", b64);
	l->peer = text->len - l->at;

	start = text->len;
	put_label(text, false, "endpoint", p->endpoint);
	/* Where the path MTU roamd uses comes from (roam_peer_path_mtu_bytes
	 * has the value): it changes with the path, as the endpoint does. */
	if (p->path_mtu_origin[0])
		put_label(text, false, "path_mtu_origin", p->path_mtu_origin);
	l->where = text->len - start;

	/* As wg's dump writes them: comma-separated, no spaces. */
	start = text->len;
	outbuf_puts(text, ",allowed_ips=\"");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (i)
			outbuf_putc(text, ',');
		outbuf_puts(text, ip_prefix_str(&p->allowed_ips[i], prefix));
	}
	outbuf_putc(text, '"');
	if (name)
		put_label(text, false, "friendly_name", name);
	l->routes = text->len - start;
}

/* The samples of one family: its name is written often enough to have
 * its length measured once. */
struct sample_name {
	const struct family *fam;
	size_t len;
};

/* name{LABELS[,reason="..."]} */
static void put_labels(struct outbuf *o, const struct sample_name *sn, const struct exposition *x,
		       const struct uapi_device *d, const struct peer_labels *l, const char *reason)
{
	outbuf_put(o, sn->fam->name, sn->len);
	outbuf_putc(o, '{');
	if (!l) {
		put_label(o, true, "interface", d->name);
	} else {
		const char *text = x->label_text + l->at;
		switch (sn->fam->labels) {
		case LABELS_INFO:
			outbuf_put(o, text, l->peer + l->where + l->routes);
			break;
		case LABELS_EXPORTER:
			outbuf_put(o, text, l->peer);
			outbuf_put(o, text + l->peer + l->where, l->routes);
			break;
		default:
			outbuf_put(o, text, l->peer);
			break;
		}
	}
	if (reason)
		put_label(o, false, "reason", reason);
	outbuf_putc(o, '}');
}

static void put_value(struct outbuf *o, struct value v)
{
	outbuf_putc(o, ' ');
	if (v.nan)
		outbuf_puts(o, "NaN");
	else if (v.ms)
		outbuf_millis(o, v.v);
	else
		outbuf_u64(o, v.v);
	outbuf_putc(o, '\n');
}

static void put_drops(struct outbuf *o, const struct sample_name *sn, const struct exposition *x,
		      const struct uapi_device *d, const struct peer_labels *l, const struct uapi_drop *drops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put_labels(o, sn, x, d, l, drops[i].reason);
		put_value(o, (struct value){ drops[i].count, false, false });
	}
}

static void family_samples(struct outbuf *o, const struct sample_name *sn, const struct exposition *x, size_t dev)
{
	const struct family *fam = sn->fam;
	const struct uapi_device *d = &x->devs[dev];
	struct value v;

	if (fam->id == IF_DROPS) {
		put_drops(o, sn, x, d, NULL, d->drops, d->n_drops);
		return;
	}
	if (fam->labels == LABELS_INTERFACE) {
		if (device_value(fam->id, d, x->now_ms, &v)) {
			put_labels(o, sn, x, d, NULL, NULL);
			put_value(o, v);
		}
		return;
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct uapi_peer *p = &d->peers[i];
		const struct peer_labels *l = &x->labels[dev][i];
		if (fam->id == PEER_DROPS) {
			put_drops(o, sn, x, d, l, p->drops, p->n_drops);
		} else if (peer_value(fam->id, d, p, x->now_ms, &v)) {
			put_labels(o, sn, x, d, l, NULL);
			put_value(o, v);
		}
	}
}

/* A family's samples must be contiguous and follow its header, and a
 * family without samples is left out: so ask first whether it has any. A
 * scan of figures is far cheaper than holding the text back (100,000 peers
 * make some 150 MB of it). */
static bool family_has_samples(const struct family *fam, const struct exposition *x)
{
	struct value v;

	for (size_t j = 0; j < x->n; j++) {
		const struct uapi_device *d = &x->devs[j];
		if (fam->id == IF_DROPS) {
			if (d->n_drops)
				return true;
		} else if (fam->labels == LABELS_INTERFACE) {
			if (device_value(fam->id, d, x->now_ms, &v))
				return true;
		} else {
			for (size_t i = 0; i < d->n_peers; i++)
				if (fam->id == PEER_DROPS ? d->peers[i].n_drops != 0
							  : peer_value(fam->id, d, &d->peers[i], x->now_ms, &v))
					return true;
		}
	}
	return false;
}

/* # TYPE, # UNIT and # HELP: rare enough for stdio's formatting. */
static void put_header(struct outbuf *o, const struct family *fam, bool om)
{
	char line[512];
	size_t name_len = strlen(fam->name) - (om && fam->counter ? strlen("_total") : 0);
	int n;

	n = snprintf(line, sizeof(line), "# TYPE %.*s %s\n", (int)name_len, fam->name, fam->counter ? "counter" : "gauge");
	outbuf_put(o, line, (size_t)n);
	if (fam->unit) {
		n = snprintf(line, sizeof(line), "# UNIT %.*s %s\n", (int)name_len, fam->name, fam->unit);
		outbuf_put(o, line, (size_t)n);
	}
	outbuf_puts(o, "# HELP ");
	outbuf_put(o, fam->name, name_len);
	outbuf_putc(o, ' ');
	outbuf_puts(o, fam->help);
	outbuf_putc(o, '\n');
}

void metrics_write(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms,
		   const struct metrics_options *opt)
{
	static const struct metrics_options defaults;
	struct exposition x = { devs, n, NULL, NULL, now_ms, opt ? opt : &defaults };
	struct outbuf o, text;
	size_t text_len;

	outbuf_init(&text, NULL);
	x.labels = xrealloc(NULL, (n ? n : 1) * sizeof(x.labels[0]));
	for (size_t j = 0; j < n; j++) {
		const struct peer_names *names = x.opt->names ? &x.opt->names[j] : NULL;
		x.labels[j] = xrealloc(NULL, (devs[j].n_peers ? devs[j].n_peers : 1) * sizeof(x.labels[j][0]));
		for (size_t i = 0; i < devs[j].n_peers; i++)
			peer_labels_make(&text, &x.labels[j][i], &devs[j], &devs[j].peers[i], names);
	}
	x.label_text = outbuf_take(&text, &text_len);
	outbuf_free(&text);

	outbuf_init(&o, f);
	for (size_t i = 0; i < N_FAMILIES; i++) {
		const struct family *fam = &families[i];
		if ((fam->compat && !x.opt->exporter_names) || !family_has_samples(fam, &x))
			continue;
		put_header(&o, fam, x.opt->openmetrics);
		struct sample_name sn = { fam, strlen(fam->name) };
		for (size_t j = 0; j < n; j++)
			family_samples(&o, &sn, &x, j);
	}
	outbuf_puts(&o, "# EOF\n");
	outbuf_free(&o);
	for (size_t j = 0; j < n; j++)
		free(x.labels[j]);
	free(x.labels);
	free(x.label_text);
}

/* Friendly names for dev: from the file asked for, else from the file
 * `roam up` read (its ledger), else from wg-quick's usual place. Only an
 * unreadable file the user named is an error. */
static int names_for(const struct metrics_request *req, const char *ifname, struct peer_names *out)
{
	struct roam_state st = { 0 };
	char path[PATH_MAX], err[256];
	int r;

	*out = (struct peer_names){ 0 };
	if (req->config) {
		r = peer_names_read(req->config, out);
		if (r < 0)
			fprintf(stderr, "roam metrics: cannot read %s: %s\n", req->config, strerror(-r));
		return r;
	}
	if (state_load(ifname, &st, err, sizeof(err)) == 0 && st.config) {
		r = peer_names_read(st.config, out);
		state_free(&st);
		if (r == 0)
			return 0;
	} else {
		state_free(&st);
	}
	snprintf(path, sizeof(path), "/etc/wireguard/%s.conf", ifname);
	peer_names_read(path, out);
	return 0;
}

/* The interfaces whose socket is listed but whose daemon did not answer
 * become devices marked unanswered, so that a scrape of all of them says
 * which one is missing instead of leaving it out in silence. */
static void add_unanswered(struct uapi_device **devs, size_t *n)
{
	char **names = NULL;
	size_t n_names = 0, answered = *n;

	if (uapi_list_interfaces(&names, &n_names) < 0)
		return;
	for (size_t i = 0; i < n_names; i++) {
		bool found = false;
		for (size_t j = 0; j < answered && !found; j++)
			found = !strcmp((*devs)[j].name, names[i]);
		if (found)
			continue;
		struct uapi_device *d = ARRAY_PUSH(*devs, *n);
		*d = (struct uapi_device){ .unanswered = true };
		snprintf(d->name, sizeof(d->name), "%s", names[i]);
	}
	uapi_names_free(names);
}

int metrics_scrape(const struct metrics_request *req, FILE *f)
{
	struct uapi_device *devs = NULL;
	struct peer_names *names;
	struct metrics_options opt = req->opt;
	size_t n_devs = 0;
	int failed = uapi_get_devices("metrics", req->ifname, &devs, &n_devs);

	/* A scrape of one named interface that failed must not look like an
	 * interface without peers. */
	if (failed < 0 || (req->ifname && failed)) {
		uapi_devices_free(devs, n_devs);
		return -1;
	}
	if (!req->ifname && failed)
		add_unanswered(&devs, &n_devs);
	names = xrealloc(NULL, (n_devs ? n_devs : 1) * sizeof(names[0]));
	for (size_t i = 0; i < n_devs; i++)
		if (names_for(req, devs[i].name, &names[i]) < 0)
			failed = 1;
	opt.names = names;
	metrics_write(f, devs, n_devs, wall_clock_ms(), &opt);
	for (size_t i = 0; i < n_devs; i++)
		peer_names_free(&names[i]);
	free(names);
	uapi_devices_free(devs, n_devs);
	return failed ? 1 : 0;
}

int cmd_metrics(int argc, char **argv)
{
	struct metrics_request req = { 0 };
	const char *listen = NULL, *compat = NULL;
	int failed;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		/* --opt VALUE and --opt=VALUE alike */
		const char **value = !strncmp(arg, "--compat", 8)   ? &compat
				     : !strncmp(arg, "--config", 8) ? &req.config
				     : !strncmp(arg, "--listen", 8) ? &listen
								     : NULL;
		if (value && (arg[8] == '=' || arg[8] == '\0')) {
			if (arg[8] == '=') {
				*value = arg + 9;
			} else if (i + 1 < argc) {
				*value = argv[++i];
			} else {
				fprintf(stderr, "roam metrics: %s needs a value\n", arg);
				return 2;
			}
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(metrics_usage, stdout);
			return 0;
		} else if (!strcmp(arg, "--openmetrics")) {
			req.opt.openmetrics = true;
		} else if (arg[0] == '-' || req.ifname) {
			fprintf(stderr, "roam metrics: unexpected argument '%s' (usage: " METRICS_SYNOPSIS ")\n", arg);
			return 2;
		} else {
			req.ifname = arg;
		}
	}
	if (compat) {
		if (strcmp(compat, "prometheus_wireguard_exporter")) {
			fprintf(stderr,
				"roam metrics: --compat knows only 'prometheus_wireguard_exporter', not '%s'\n", compat);
			return 2;
		}
		req.opt.exporter_names = true;
	}
	if (req.config && !req.ifname) {
		fputs("roam metrics: --config names the file of one interface: give IFNAME too\n", stderr);
		return 2;
	}
	if (listen)
		return metrics_serve(listen, &req);
	/* A large scrape is some 150 MB of text: write it in big pieces. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	failed = metrics_scrape(&req, stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "roam metrics: cannot write to standard output: %s\n", strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}
