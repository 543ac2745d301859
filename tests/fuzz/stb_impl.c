/* The stb_image_resize implementation (Debian's libstb-dev header, the same
 * version as the libstb the library links against), compiled into the fuzz
 * harnesses so that libFuzzer's coverage and AddressSanitizer reach inside
 * it. stb_image and stb_image_write are compiled into the library itself
 * (src/io/stb_image_impl.c, zero-filled allocations; src/io/stb_write_impl.c,
 * zlib's deflate). Not used outside tests/fuzz. */
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
