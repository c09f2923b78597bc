// zstd's names for the frame format parameters (ZSTD_c_format, ZSTD_d_format, ZSTD_f_zstd1_magicless) are in its
// "experimental" section; the functions otelsink calls are all part of the stable API.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zdict.h>
