/* The one version number roamd --version and roam --version print (and the
 * man pages carry). A build may set it: make CPPFLAGS=-DROAM_VERSION='"x"'. */
#ifndef ROAM_VERSION_H
#define ROAM_VERSION_H

#ifndef ROAM_VERSION
#define ROAM_VERSION "0.1.0"
#endif

#endif
