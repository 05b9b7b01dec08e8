/* Log lines: level filter, stderr or syslog sink, and the wording of the
 * engine's events. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "crypto.h"
#include "key_encoding.h"
#include "log.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog;
static bool log_errors_to_stderr;
static char log_ifname[32];

bool log_parse_level(const char *s, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"silent", LOG_LEVEL_SILENT},	{"error", LOG_LEVEL_ERROR},	{"info", LOG_LEVEL_INFO},
		{"verbose", LOG_LEVEL_VERBOSE}, {"debug", LOG_LEVEL_VERBOSE},
	};
	if (!s || !*s) {
		*level = LOG_LEVEL_INFO;
		return true;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*level = names[i].level;
			return true;
		}
	}
	return false;
}

void log_init(enum log_level level, const char *ifname)
{
	log_level = level;
	snprintf(log_ifname, sizeof(log_ifname), "%s", ifname);
}

void log_to_syslog(bool copy_errors_to_stderr)
{
	if (!log_syslog)
		openlog("roamd", LOG_PID, LOG_DAEMON);
	log_syslog = true;
	log_errors_to_stderr = copy_errors_to_stderr;
}

bool log_syslog_reachable(void)
{
	/* What syslog(3) will do: a datagram socket connected to _PATH_LOG
	 * (falling back to a stream one, which needs the path too). */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (!ok && errno == EPROTOTYPE) {
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

void log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
}

bool log_enabled(enum log_level level)
{
	return level != LOG_LEVEL_SILENT && level <= log_level;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error";
	case LOG_LEVEL_INFO:
		return "info";
	default:
		return "verbose";
	}
}

static void write_stderr(enum log_level level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	/* One fprintf per line so concurrent writers never interleave mid-line. */
	fprintf(stderr, "%s.%03ld roamd(%s) %s: %s\n", when, ts.tv_nsec / 1000000, log_ifname, level_name(level), msg);
}

void log_line(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_syslog) {
		write_stderr(level, msg);
		return;
	}
	int prio = level == LOG_LEVEL_ERROR ? LOG_ERR : level == LOG_LEVEL_INFO ? LOG_INFO : LOG_DEBUG;
	syslog(prio, "%s: %s", log_ifname, msg);
	if (level == LOG_LEVEL_ERROR && log_errors_to_stderr)
		write_stderr(level, msg);
}

const char *endpoint_str(const struct endpoint *ep, char buf[ENDPOINT_TEXT_LEN])
{
	if (!endpoint_format(ep, buf, ENDPOINT_TEXT_LEN))
		snprintf(buf, ENDPOINT_TEXT_LEN, "(none)");
	return buf;
}

/* "peer(AbCd…WxY=)": the first and last four base64 characters of the
 * public key, the way wireguard-go names peers, so lines from both
 * implementations can be matched by eye. */
const char *peer_str(const struct peer *peer, char buf[24])
{
	struct peer_info info;
	char full[KEY_B64_LEN + 1];
	if (!peer) {
		snprintf(buf, 24, "peer(?)");
		return buf;
	}
	peer_get_info(peer, &info);
	key_to_base64(full, info.public_key);
	/* peer_get_info also copied the preshared key: do not leave it on
	 * the stack. */
	crypto_wipe(&info, sizeof(info));
	snprintf(buf, 24, "peer(%.4s…%.4s)", full, full + 40);
	return buf;
}

void log_device_event(const struct device_event *ev)
{
	char p[24], a[ENDPOINT_TEXT_LEN], b[ENDPOINT_TEXT_LEN];

	switch (ev->type) {
	case EVENT_HANDSHAKE_COMPLETE:
		log_info("%s: handshake complete, new session", peer_str(ev->peer, p));
		break;
	case EVENT_HANDSHAKE_GIVEN_UP:
		log_info("%s: handshake did not complete after %llu attempts, giving up", peer_str(ev->peer, p),
			 (unsigned long long)(MAX_TIMER_HANDSHAKES + 2));
		break;
	case EVENT_ENDPOINT_CHANGED:
		/* How long the old path had been silent tells a NAT timeout
		 * (long) from a network switch (short); one line per change
		 * is the peer's roaming history as the log keeps it. */
		if (ev->idle_before)
			log_info("%s: endpoint %s -> %s (nothing received for %llu ms before)", peer_str(ev->peer, p),
				 endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b),
				 (unsigned long long)(ev->idle_before / NSEC_PER_MSEC));
		else
			log_info("%s: endpoint %s -> %s (nothing received from it before)", peer_str(ev->peer, p),
				 endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b));
		break;
	case EVENT_KEYS_ZEROED:
		log_info("%s: no session for %llu s, session keys zeroed", peer_str(ev->peer, p),
			 (unsigned long long)(ZERO_KEY_MATERIAL_TIMEOUT / NSEC_PER_SEC));
		break;
	case EVENT_PEER_CREATED:
		log_info("%s: created", peer_str(ev->peer, p));
		break;
	case EVENT_PEER_REMOVED:
		log_info("%s: removed, keys wiped", peer_str(ev->peer, p));
		break;
	case EVENT_PATH_PROBED:
		if (ev->path_mtu)
			log_info("%s: path probe: %s, path MTU %u", peer_str(ev->peer, p),
				 path_probe_result_name((enum path_probe_result)ev->probe_result), ev->path_mtu);
		else
			log_info("%s: path probe: %s, path MTU the interface's", peer_str(ev->peer, p),
				 path_probe_result_name((enum path_probe_result)ev->probe_result));
		break;
	case EVENT_CANDIDATE_TRIED:
		/* On our own retransmit timers only: at most one line per
		 * REKEY_TIMEOUT per peer, whatever arrives. Candidates are
		 * numbered from 1 for people, as in the file. */
		if (ev->candidate_why == CANDIDATE_RACE)
			log_info("%s: no answer at %s within 250 ms, the same handshake goes to %s too (the other family)",
				 peer_str(ev->peer, p), endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b));
		else if (ev->candidate_why == CANDIDATE_PROBE_HOME)
			log_info("%s: probing the preferred endpoint candidate 1, %s (in use: %s)", peer_str(ev->peer, p),
				 endpoint_str(ev->new_endpoint, b), endpoint_str(ev->old_endpoint, a));
		else if (ev->candidate_why == CANDIDATE_BACK)
			log_info("%s: no answer from the preferred endpoint %s; handshakes go to the endpoint in use "
				 "again, %s",
				 peer_str(ev->peer, p), endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b));
		else if (ev->candidate >= 0)
			log_info("%s: no answer at %s, handshakes now go to endpoint candidate %d, %s",
				 peer_str(ev->peer, p), endpoint_str(ev->old_endpoint, a), ev->candidate + 1,
				 endpoint_str(ev->new_endpoint, b));
		else
			log_info("%s: no answer at %s, handshakes now go to the endpoint learned from the peer, %s",
				 peer_str(ev->peer, p), endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b));
		break;
	case EVENT_COOKIE_SENT: {
		/* A flood earns tens of thousands a second: a line a second at
		 * most, with how many went unlogged. */
		static uint64_t logged_at, unlogged;
		if (logged_at && ev->now - logged_at < NSEC_PER_SEC) {
			unlogged++;
			break;
		}
		logged_at = ev->now;
		log_verbose("under load: cookie reply sent to %s (and %llu more since the last line)",
			    endpoint_str(ev->new_endpoint, a), (unsigned long long)unlogged);
		unlogged = 0;
		break;
	}
	case EVENT_LATE_PACKET_ELSEWHERE: {
		/* One per late packet, and a queue released on a link the
		 * peer left holds many: a line a second at most. */
		static uint64_t logged_at;
		if (logged_at && ev->now - logged_at < NSEC_PER_SEC)
			break;
		logged_at = ev->now;
		log_info("%s: a packet from %s arrived behind newer ones; the endpoint stays %s", peer_str(ev->peer, p),
			 endpoint_str(ev->old_endpoint, a), endpoint_str(ev->new_endpoint, b));
		break;
	}
	case EVENT_ATTEMPT_UNANSWERED:
	case EVENT_HANDSHAKE_INITIATION_SENT:
	case EVENT_HANDSHAKE_INITIATION_RECEIVED:
	case EVENT_HANDSHAKE_RESPONSE_SENT:
	case EVENT_COOKIE_RECEIVED:
	case EVENT_KEEPALIVE_SENT:
		if (log_enabled(LOG_LEVEL_VERBOSE))
			log_verbose("%s: %s", peer_str(ev->peer, p), device_event_name(ev->type));
		break;
	}
}
