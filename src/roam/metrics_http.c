/* roam metrics --listen: the exposition over HTTP for a Prometheus server
 * to scrape. libmicrohttpd parses HTTP (no hand-written parser faces the
 * network); one internal thread answers one scrape at a time, which is
 * all a Prometheus server needs and keeps the daemons from being asked
 * in parallel. Every scrape asks the daemons anew: nothing is cached, so a
 * figure is never older than the scrape. */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>


/* A stream onto an anonymous memory file; tmpfile where memfd_create is
 * refused. NULL if neither works. */
static FILE *memory_file(void)
{
	int fd = memfd_create("roam-metrics", MFD_CLOEXEC);
	FILE *f;

	if (fd < 0)
		return tmpfile();
	f = fdopen(fd, "w+");
	if (!f)
		close(fd);
	return f;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static const char not_found[] = "roam metrics serves /metrics only\n";
	static const char not_allowed[] = "roam metrics: only GET and HEAD\n";
	static const char failed[] = "roam metrics: no interface could be read (see its standard error)\n";
	const struct metrics_request *req = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	FILE *f;

	(void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		/* A scrape is a GET: anything else is told so. */
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		resp = MHD_create_response_from_buffer(strlen(not_allowed), (void *)not_allowed, MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(strlen(not_found), (void *)not_found, MHD_RESPMEM_PERSISTENT);
	} else {
		/* Into an unnamed file in memory (memfd), sent from there
		 * (sendfile): 100,000 peers make some 150 MB, which a growing
		 * buffer would copy and zero again at every doubling, and
		 * which a file on a disk (tmpfile in /tmp) would cost block
		 * allocation and writeback for. */
		f = memory_file();
		if (!f)
			return MHD_NO;
		setvbuf(f, NULL, _IOFBF, 1 << 20);
		int r = metrics_scrape(req, f);
		long len = fflush(f) == 0 ? ftell(f) : -1;
		if (r < 0 || len < 0) {
			fclose(f);
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			resp = MHD_create_response_from_buffer(strlen(failed), (void *)failed, MHD_RESPMEM_PERSISTENT);
		} else {
			/* The response owns the fd from here on. */
			resp = MHD_create_response_from_fd((uint64_t)len, dup(fileno(f)));
			fclose(f);
		}
	}
	if (!resp)
		return MHD_NO;
	if (status == MHD_HTTP_OK && req->opt.openmetrics)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/openmetrics-text; version=1.0.0; charset=utf-8");
	else
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into an address to bind; false with
 * a reason in err. */
static bool listen_address(const char *spec, struct sockaddr_storage *ss, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	const char *colon = strrchr(spec, ':');
	char host[128];
	struct addrinfo *ai;
	size_t host_len;
	int r;

	if (!colon || !colon[1]) {
		snprintf(err, err_len, "'%s' is not ADDR:PORT (e.g. 127.0.0.1:9586, [::1]:9586, :9586)", spec);
		return false;
	}
	/* A port is 1 to 65535 in plain digits: getaddrinfo would take 70000
	 * modulo 65536, and 0 would bind a port nobody announced. */
	size_t digits = strspn(colon + 1, "0123456789");
	long port = digits && digits <= 5 && !colon[1 + digits] ? strtol(colon + 1, NULL, 10) : 0;
	if (port < 1 || port > 65535) {
		snprintf(err, err_len, "'%s': the port must be a number from 1 to 65535", spec);
		return false;
	}
	host_len = (size_t)(colon - spec);
	if (host_len >= 2 && spec[0] == '[' && colon[-1] == ']') {
		spec++;
		host_len -= 2;
	}
	if (host_len >= sizeof(host)) {
		snprintf(err, err_len, "'%s': address too long", spec);
		return false;
	}
	memcpy(host, spec, host_len);
	host[host_len] = '\0';
	if (!host_len)
		hints.ai_family = AF_INET6;	/* ":PORT": "::", which takes IPv4 too */
	r = getaddrinfo(host_len ? host : NULL, colon + 1, &hints, &ai);
	if (r != 0) {
		snprintf(err, err_len, "'%s': %s", spec, gai_strerror(r));
		return false;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return true;
}

int metrics_serve(const char *listen, const struct metrics_request *req)
{
	struct sockaddr_storage ss = { 0 };
	struct MHD_Daemon *daemon;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	char err[256];
	sigset_t stop;
	int sig;

	if (!listen_address(listen, &ss, err, sizeof(err))) {
		fprintf(stderr, "roam metrics: --listen %s\n", err);
		return 2;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Blocked before the server's thread starts, so that it inherits the
	 * mask and the signals come to sigwait below. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, answer, (void *)req, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
	if (!daemon) {
		fprintf(stderr, "roam metrics: cannot listen on %s: %s\n", listen, strerror(errno));
		return 1;
	}
	fprintf(stderr, "roam metrics: serving http://%s/metrics\n", listen);
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(daemon);
	return 0;
}
