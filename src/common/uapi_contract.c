/* The interface-name rule of uapi_contract.h. */
#include "uapi_contract.h"

#include <net/if.h>
#include <string.h>
#include <sys/un.h>

_Static_assert(UAPI_IFNAME_MAX == IFNAMSIZ, "interface names are the kernel's");
_Static_assert(UAPI_SOCKET_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "a socket path fills at most sun_path");

bool uapi_ifname_valid(const char *name, size_t len)
{
	if (len == 0 || len >= UAPI_IFNAME_MAX || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		/* '/' would also leave UAPI_SOCKET_DIR; '\0' would cut the name
		 * short of len. The kernel's isspace is ' ' and '\t'..'\r'. */
		if (c == '\0' || c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r'))
			return false;
	}
	return true;
}
