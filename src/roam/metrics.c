/* roam metrics [IFNAME] [--openmetrics]: see metrics.h for the two
 * spellings. Figures come straight from the UAPI reply; durations are
 * converted to seconds, Prometheus's base unit. A family whose figure no
 * interface has (every roam_* one against wireguard-go) is left out
 * rather than printed empty. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

static const char metrics_usage[] =
	"Usage: roam metrics [IFNAME] [--openmetrics]\n"
	"\n"
	"Prints the figures of one interface, or of every interface with a socket in\n"
	UAPI_SOCKET_DIR ", for Prometheus: save it for node_exporter's textfile collector or\n"
	"serve it from a scrape script. Labels: interface, public_key (peers), reason (drops).\n"
	"Counters end in _total; durations are in seconds; the output ends with '# EOF'.\n"
	"Against wireguard-go only the standard figures appear (bytes, handshake, keepalive).\n"
	"\n"
	"The default spelling is the Prometheus text format (checked by 'promtool check\n"
	"metrics'); --openmetrics names counter families without _total, as OpenMetrics 1.0\n"
	"requires (see the top of src/roam/metrics.h).\n"
	"\n"
	"Exit status: 0 success, 1 an interface could not be read, 2 usage error.\n";

enum family_id {
	IF_LISTEN_PORT,
	IF_PEERS,
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
};

struct family {
	enum family_id id;
	const char *name;	/* as the samples are named */
	bool counter;
	const char *unit;	/* NULL: none */
	const char *help;
};

static const struct family families[] = {
	{ IF_LISTEN_PORT, "roam_interface_listen_port", false, NULL,
	  "UDP port the interface listens on; 0 when it does not listen." },
	{ IF_PEERS, "roam_interface_peers", false, NULL, "Peers configured on the interface." },
	{ IF_EXTENDED, "roam_interface_extended", false, NULL,
	  "1 when the daemon is roamd and the roam details are present, 0 for wireguard-go." },
	{ IF_UNDER_LOAD, "roam_interface_under_load", false, NULL,
	  "1 while the interface is under handshake load and asks for cookies." },
	{ IF_DROPS, "roam_interface_dropped_packets_total", true, "packets",
	  "Packets dropped by the interface, all peers and unknown senders, by cause." },
	{ PEER_RX_BYTES, "roam_peer_received_bytes_total", true, "bytes",
	  "UDP payload bytes received from the peer, handshakes included." },
	{ PEER_TX_BYTES, "roam_peer_sent_bytes_total", true, "bytes",
	  "UDP payload bytes sent to the peer, handshakes included." },
	{ PEER_RX_PACKETS, "roam_peer_received_packets_total", true, "packets",
	  "Authenticated packets received from the peer." },
	{ PEER_TX_PACKETS, "roam_peer_sent_packets_total", true, "packets", "Packets sent to the peer." },
	{ PEER_HANDSHAKE_TIME, "roam_peer_last_handshake_timestamp_seconds", false, "seconds",
	  "Unix time of the last completed handshake; 0 if none." },
	{ PEER_HANDSHAKE_AGE, "roam_peer_handshake_age_seconds", false, "seconds",
	  "Time since the last completed handshake; absent if none." },
	{ PEER_HANDSHAKE_FRESH, "roam_peer_handshake_fresh", false, NULL,
	  "1 if the last handshake is under 3 minutes old (a session can be current), else 0." },
	{ PEER_SESSION, "roam_peer_session_established", false, NULL, "1 while the peer has a usable session." },
	{ PEER_HANDSHAKE_ATTEMPTS, "roam_peer_handshake_attempts", false, NULL,
	  "Handshake initiations sent since the last completed handshake." },
	{ PEER_LAST_RECEIVE_AGE, "roam_peer_last_receive_age_seconds", false, "seconds",
	  "Time since an authenticated packet last came from the peer; absent if none ever did." },
	{ PEER_KEEPALIVE, "roam_peer_persistent_keepalive_seconds", false, "seconds",
	  "Persistent keepalive interval; 0 when off." },
	{ PEER_DROPS, "roam_peer_dropped_packets_total", true, "packets", "Packets from or to the peer dropped, by cause." },
	{ PEER_ENDPOINT_CHANGES, "roam_peer_endpoint_changes_total", true, NULL,
	  "Times the peer's endpoint moved (roaming or NAT rebinding)." },
	{ PEER_NAT_REBINDS, "roam_peer_nat_rebinds_total", true, NULL,
	  "Endpoint changes after an idle gap: a NAT forgot the mapping." },
	{ PEER_NAT_LOST_IDLE, "roam_peer_nat_mapping_lost_idle_seconds", false, "seconds",
	  "Shortest idle gap after which a NAT mapping was lost; absent without evidence." },
	{ PEER_NAT_KEPT_IDLE, "roam_peer_nat_mapping_kept_idle_seconds", false, "seconds",
	  "Longest idle gap a NAT mapping survived; absent without evidence." },
	{ PEER_SUGGESTED_KEEPALIVE, "roam_peer_suggested_keepalive_seconds", false, "seconds",
	  "Persistent keepalive the NAT evidence suggests; absent without evidence." },
	{ PEER_PATH_MTU, "roam_peer_path_mtu_bytes", false, "bytes",
	  "Largest outer packet the path to the peer carries, as learnt (ICMP, the outgoing interface, probes); "
	  "absent while nothing is learnt and the interface MTU applies." },
	{ PEER_PATH_INNER_MTU, "roam_peer_path_inner_mtu_bytes", false, "bytes",
	  "Largest inner packet that fits the peer's path; absent while nothing is learnt." },
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
};

static bool device_value(enum family_id id, const struct uapi_device *d, struct value *out)
{
	*out = (struct value){ 0 };
	switch (id) {
	case IF_LISTEN_PORT:
		out->v = d->listen_port;
		return true;
	case IF_PEERS:
		out->v = d->n_peers;
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
		out->v = p->rx_bytes;
		return true;
	case PEER_TX_BYTES:
		out->v = p->tx_bytes;
		return true;
	case PEER_HANDSHAKE_TIME:
		out->v = p->last_handshake_sec;
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
		*out = (struct value){ p->last_receive_age_ms, true };
		return p->has_last_receive_age;
	case PEER_ENDPOINT_CHANGES:
		out->v = p->endpoint_changes;
		return true;
	case PEER_NAT_REBINDS:
		out->v = p->nat_rebinds;
		return true;
	case PEER_NAT_LOST_IDLE:
		*out = (struct value){ p->nat_rebound_min_idle_ms, true };
		return out->v != 0;
	case PEER_NAT_KEPT_IDLE:
		*out = (struct value){ p->nat_kept_max_idle_ms, true };
		return out->v != 0;
	case PEER_SUGGESTED_KEEPALIVE:
		out->v = p->suggested_keepalive;
		return out->v != 0;
	case PEER_PATH_MTU:
		out->v = p->path_mtu;
		return out->v != 0;
	case PEER_PATH_INNER_MTU:
		out->v = p->path_inner_mtu;
		return out->v != 0;
	default:
		return false;
	}
}

static void put_value(FILE *f, struct value v)
{
	if (v.ms)
		fprintf(f, " %" PRIu64 ".%03" PRIu64 "\n", v.v / 1000, v.v % 1000);
	else
		fprintf(f, " %" PRIu64 "\n", v.v);
}

/* name{interface="...",public_key="..."[,reason="..."]} */
static void put_labels(FILE *f, const struct family *fam, const struct uapi_device *d, const struct uapi_peer *p,
		       const char *reason)
{
	char b64[KEY_B64_LEN + 1];

	fprintf(f, "%s{interface=\"", fam->name);
	metrics_label_value(f, d->name);
	fputc('"', f);
	if (p) {
		key_to_base64(b64, p->public_key);
		fprintf(f, ",public_key=\"%s\"", b64);
	}
	if (reason) {
		fputs(",reason=\"", f);
		metrics_label_value(f, reason);
		fputc('"', f);
	}
	fputc('}', f);
}

static void put_drops(FILE *f, const struct family *fam, const struct uapi_device *d, const struct uapi_peer *p,
		      const struct uapi_drop *drops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put_labels(f, fam, d, p, drops[i].reason);
		put_value(f, (struct value){ drops[i].count, false });
	}
}

static void family_samples(FILE *f, const struct family *fam, const struct uapi_device *d, uint64_t now_ms)
{
	struct value v;

	if (fam->id == IF_DROPS) {
		put_drops(f, fam, d, NULL, d->drops, d->n_drops);
		return;
	}
	if (device_value(fam->id, d, &v)) {
		put_labels(f, fam, d, NULL, NULL);
		put_value(f, v);
		return;
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct uapi_peer *p = &d->peers[i];
		if (fam->id == PEER_DROPS) {
			put_drops(f, fam, d, p, p->drops, p->n_drops);
		} else if (peer_value(fam->id, d, p, now_ms, &v)) {
			put_labels(f, fam, d, p, NULL);
			put_value(f, v);
		}
	}
}

void metrics_write(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms, bool openmetrics)
{
	char *samples = NULL;
	size_t len = 0, name_len;
	FILE *mem;

	for (size_t i = 0; i < N_FAMILIES; i++) {
		const struct family *fam = &families[i];
		/* A family's samples must be contiguous and follow its
		 * header; gather them first to know whether there are any. */
		mem = open_memstream(&samples, &len);
		if (!mem) {
			fputs("roam: out of memory\n", stderr);
			exit(1);
		}
		for (size_t j = 0; j < n; j++)
			family_samples(mem, fam, &devs[j], now_ms);
		fclose(mem);
		if (len) {
			name_len = strlen(fam->name) - (openmetrics && fam->counter ? strlen("_total") : 0);
			fprintf(f, "# TYPE %.*s %s\n", (int)name_len, fam->name, fam->counter ? "counter" : "gauge");
			if (fam->unit)
				fprintf(f, "# UNIT %.*s %s\n", (int)name_len, fam->name, fam->unit);
			fprintf(f, "# HELP %.*s %s\n", (int)name_len, fam->name, fam->help);
			fwrite(samples, 1, len, f);
		}
		free(samples);
		samples = NULL;
	}
	fputs("# EOF\n", f);
}

int cmd_metrics(int argc, char **argv)
{
	struct uapi_device *devs = NULL;
	const char *ifname = NULL;
	bool openmetrics = false;
	size_t n_devs = 0;
	int failed;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(metrics_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--openmetrics")) {
			openmetrics = true;
		} else if (argv[i][0] == '-' || ifname) {
			fprintf(stderr, "roam metrics: unexpected argument '%s' (usage: roam metrics [IFNAME] [--openmetrics])\n",
				argv[i]);
			return 2;
		} else {
			ifname = argv[i];
		}
	}
	failed = uapi_get_devices("metrics", ifname, &devs, &n_devs);
	/* A scrape of one named interface that failed must not look like an
	 * interface without peers. */
	if (failed >= 0 && !(ifname && failed))
		metrics_write(stdout, devs, n_devs, wall_clock_ms(), openmetrics);
	uapi_devices_free(devs, n_devs);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "roam metrics: cannot write to standard output: %s\n", strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}
