#ifndef CONSENTINEL_CMALLOC_SHIM_H
#define CONSENTINEL_CMALLOC_SHIM_H
#include <malloc.h>
#endif
