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

#include "uapi_client.h"

/* s as the inside of a quoted label value: \ " and newline escaped. */
void metrics_label_value(FILE *f, const char *s);
/* The whole exposition for devs[0..n), "# EOF" included. */
void metrics_write(FILE *f, const struct uapi_device *devs, size_t n, uint64_t now_ms, bool openmetrics);

#endif
