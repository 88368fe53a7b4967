// libexpat from Debian (libexpat1-dev): the push parser behind every XMPP stream.
#include <expat.h>
