/* The one JSON primitive the CLI's writers need that printf cannot do
 * safely: a string literal from bytes of unknown origin. */
#ifndef ROAM_JSON_H
#define ROAM_JSON_H

#include <stdio.h>

/* Writes s as a JSON string, quotes included. Bytes that are not valid
 * UTF-8 become U+FFFD, so the document always parses whatever a file or
 * interface name holds. */
void json_string(FILE *f, const char *s);
/* The same, or null for an empty string ("none"/"unknown" in the schemas). */
void json_string_or_null(FILE *f, const char *s);

#endif
