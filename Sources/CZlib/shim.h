#ifndef CONSENTINEL_CZLIB_SHIM_H
#define CONSENTINEL_CZLIB_SHIM_H
#include <zlib.h>
#endif
