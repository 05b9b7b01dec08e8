/* The daemon's log: one line per meaningful event, to stderr in the
 * foreground or to syslog once daemonised. Never a key: only public keys
 * (abbreviated) and addresses are ever formatted. */
#ifndef ROAMD_LOG_H
#define ROAMD_LOG_H

#include <stdbool.h>

#include "device.h"

enum log_level {
	LOG_LEVEL_SILENT,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_INFO,
	LOG_LEVEL_VERBOSE,
};

/* LOG_LEVEL values: error, info, verbose; also wireguard-go's "debug"
 * (= verbose) and "silent". NULL or "" means the default, info. */
bool log_parse_level(const char *s, enum log_level *level);
void log_init(enum log_level level, const char *ifname);
/* From now on lines go to syslog; errors are also copied to stderr while
 * copy_errors_to_stderr is set (the parent of a daemonising child relays
 * setup failures to the user through it). */
void log_to_syslog(bool copy_errors_to_stderr);
/* Whether a syslog daemon listens (on /dev/log): without one, lines sent
 * to syslog are lost without a word. */
bool log_syslog_reachable(void);
void log_close(void);
bool log_enabled(enum log_level level);

void log_line(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_line(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_info(...) log_line(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...) log_line(LOG_LEVEL_VERBOSE, __VA_ARGS__)

/* device_io.event: the engine's events as log lines. */
void log_device_event(const struct device_event *ev);

/* "peer(AbCd…WxY=)", as wireguard-go names peers: for log lines. */
const char *peer_str(const struct peer *peer, char buf[24]);
/* endpoint_format's text, or "(none)" if unset: for log lines. */
const char *endpoint_str(const struct endpoint *ep, char buf[ENDPOINT_TEXT_LEN]);

#endif
