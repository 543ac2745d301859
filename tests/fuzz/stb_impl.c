/* The stb_image_resize and stb_image_write implementations (Debian's
 * libstb-dev headers, the same version as the libstb the library links
 * against), compiled into the fuzz harnesses so that libFuzzer's coverage and
 * AddressSanitizer reach inside them. stb_image itself is compiled into the
 * library (src/stb_image_impl.c, zero-filled allocations). Not used outside
 * tests/fuzz. */
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_resize.h>
#include <stb_image_write.h>
