/*
 * One bind link call from the command line, for the parity check of `bindfs-rs link` and the
 * C API (bindlink/tests/parity.rs). Prints the HRESULT as 0x%08X and exits 0 whatever it is.
 *
 *   bindlink_call create VIRTUAL BACKING FLAGS [EXCEPTION...]
 *   bindlink_call remove VIRTUAL
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindlink.h"

int main(int argc, char **argv)
{
    HRESULT hr;
    if (argc >= 5 && strcmp(argv[1], "create") == 0) {
        CREATE_BIND_LINK_FLAGS flags = (CREATE_BIND_LINK_FLAGS)strtoul(argv[4], NULL, 0);
        hr = CreateBindLink(argv[2], argv[3], flags, (UINT32)(argc - 5), (const char *const *)(argv + 5));
    } else if (argc == 3 && strcmp(argv[1], "remove") == 0) {
        hr = RemoveBindLink(argv[2]);
    } else {
        fprintf(stderr, "usage: bindlink_call create VIRTUAL BACKING FLAGS [EXCEPTION...] | remove VIRTUAL\n");
        return 2;
    }
    printf("0x%08X\n", (unsigned int)hr);
    return 0;
}
