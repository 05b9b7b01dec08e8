/* libFuzzer: the wg-quick configuration parser (src/roam/config.c), which
 * `roam up` runs on files that may come from anywhere (a VPN provider's
 * download, a QR code, a user's hand). The text is parsed from a block of
 * exactly its size, so AddressSanitizer sees any read past the end.
 *
 * Beyond "no crash": what it reports stays bounded by the input (no more
 * findings than lines plus a few for the whole file, each on a line the
 * text has), and parsing the same text twice gives the same result. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';

	struct config cfg = {0}, again = {0};
	struct diag_list diags = {0}, diags_again = {0};
	config_parse_string("fuzz.conf", text, size, &cfg, &diags);
	config_parse_string("fuzz.conf", text, size, &again, &diags_again);
	if (diags.n != diags_again.n || cfg.n_peers != again.n_peers)
		abort();
	for (size_t i = 0; i < diags.n; i++)
		if (diags.v[i].line > lines)
			abort();
	config_free(&cfg);
	config_free(&again);
	diag_list_free(&diags);
	diag_list_free(&diags_again);
	free(text);
	return 0;
}
