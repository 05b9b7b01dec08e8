/* roam metrics: per-interface and per-peer figures for Prometheus.
 *
 * Two spellings of one exposition, differing only in how a counter's family
 * is named in its # TYPE/# UNIT/# HELP lines:
 *  - the default, read by `promtool check metrics` and node_exporter's
 *    textfile collector (Prometheus text format 0.0.4): the family is named
 *    like its samples, roam_peer_received_bytes_total;
 *  - --openmetrics, strict OpenMetrics 1.0: the family is named without the
 *    _total its samples carry, roam_peer_received_bytes. A 0.0.4 parser
 *    reads those samples as untyped, so promtool rejects this spelling, and
 *    OpenMetrics parsers reject the default one ("clashing name").
 * Both carry # UNIT lines and end with "# EOF" (0.0.4 reads them as
 * comments). */
#ifndef ROAM_METRICS_H
#define ROAM_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "peer_names.h"
#include "uapi_client.h"

struct metrics_options {
	bool openmetrics;
	/* Also prometheus_wireguard_exporter's series (wireguard_*), with its
	 * names, types and labels, so its Grafana dashboards work unchanged. */
	bool exporter_names;
	const struct peer_names *names;	/* [device], for friendly_name; may be NULL */
};

/* What one scrape asks for: roam metrics' command line. */
struct metrics_request {
	const char *ifname;	/* NULL: every interface */
	const char *config;	/* friendly names from here; NULL: the ledger's file
				 * or /etc/wireguard/IFNAME.conf, when readable */
	struct metrics_options opt;
};

/* s as the inside of a quoted label value: \ " and newline escaped. */
void metrics_label_value(FILE *f, const char *s);
/* The whole exposition for devs[0..n), "# EOF" included. */
void metrics_write(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms,
		   const struct metrics_options *opt);
/* Asks the daemons and writes the exposition to f. 0; 1 when an interface
 * could not be read (the others are written, unless the one named in
 * req->ifname failed: then nothing is); -1 when nothing could be listed.
 * Reasons go to stderr. */
int metrics_scrape(const struct metrics_request *req, FILE *f);
/* roam metrics --listen: answers GET /metrics over HTTP (libmicrohttpd)
 * until SIGINT or SIGTERM. listen is "ADDR:PORT", "[V6ADDR]:PORT" or
 * ":PORT" (every address). Returns the exit status. */
int metrics_serve(const char *listen, const struct metrics_request *req);

#endif
