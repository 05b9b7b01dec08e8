/* roam: the operator's command line. One table maps each command to its
 * function and one line of help; a command lives in its own file and gets
 * (argc, argv) with argv[0] its own name, so `roam help X` is `roam X --help`.
 *
 * Exit status, unless a command documents its own (audit does): 0 success,
 * 1 failure, 2 usage error. Every error is one line on stderr that names the
 * command and the problem. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "version.h"

/* The commands' entry points. Declared here, next to the table, because the
 * table is their only caller. */
int cmd_genkey(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_genpsk(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_reresolve(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_events(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "genkey", cmd_genkey, "Generate a private key and write it to stdout (base64)" },
	{ "pubkey", cmd_pubkey, "Read a private key on stdin and write its public key" },
	{ "genpsk", cmd_genpsk, "Generate a preshared key and write it to stdout" },
	{ "audit", cmd_audit, "Check configuration files, one or a whole fleet at once" },
	{ "up", cmd_up, "Bring an interface up from a wg-quick file, without wg-quick" },
	{ "down", cmd_down, "Take down an interface 'roam up' brought up, undoing all it did" },
	{ "show", cmd_show, "Show interfaces like 'wg show', with handshake verdicts, history, NAT, drops" },
	{ "events", cmd_events, "Print roamd's events (handshakes, endpoint changes, failovers) as JSON lines, following" },
	{ "metrics", cmd_metrics, "Print interface and peer figures for Prometheus" },
	{ "reresolve", cmd_reresolve, "Resolve host name endpoints again; update peers without a live session" },
	{ "doctor", cmd_doctor, "Run the fast diagnosis playbook: UDP, handshake, NAT, routes, MTU, DNS, clock" },
	{ "help", cmd_help, "List the commands, or show one command's help" },
};

enum { N_COMMANDS = sizeof(commands) / sizeof(commands[0]) };

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "roam: unknown command '%s'; run 'roam help' for the list\n", name);
	return 2;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *cmd;
	char help_arg[] = "--help";
	char *args[3] = { NULL, help_arg, NULL };
	size_t i;

	if (argc > 2) {
		fputs("roam help: give at most one command name\n", stderr);
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
		cmd = find_command(argv[1]);
		if (!cmd)
			return unknown_command(argv[1]);
		if (cmd->fn == cmd_help)
			return cmd_help(1, argv);
		args[0] = argv[1];
		return cmd->fn(2, args);
	}
	puts("Usage: roam COMMAND [ARGUMENTS...]\n"
	     "       roam --version\n"
	     "\n"
	     "A WireGuard-compatible VPN. Commands:");
	for (i = 0; i < N_COMMANDS; i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].help);
	puts("\n"
	     "'roam help COMMAND' or 'roam COMMAND --help' shows the help of one command.\n"
	     "Exit status: 0 success, 1 failure, 2 usage error (roam audit has its own; see its help).");
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	/* Whatever roam or its hooks create (keys, saved configs) is for its
	 * owner's eyes only; wg-quick does the same. */
	umask(077);
	if (argc < 2) {
		fputs("roam: no command given; run 'roam help' for the list\n", stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
		printf("roam %s\n"
		       "The command line of roam, a WireGuard-compatible VPN (roamd is its daemon).\n",
		       ROAM_VERSION);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	return cmd->fn(argc - 1, argv + 1);
}
