/*
 * Linked by tools/bindlink-wine.sh with lld-link (MSVC link.exe's command line, no CRT)
 * against the dlltool bindlink.lib: the import library an MSVC build links must name
 * CreateBindLink and RemoveBindLink in bindlink.dll. Run under Wine, it exits 0 when both
 * calls refused NULL paths with E_INVALIDARG.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "bindlink.h"

int probe(void)
{
    HRESULT created = CreateBindLink(NULL, NULL, CREATE_BIND_LINK_FLAG_NONE, 0, NULL);
    HRESULT removed = RemoveBindLink(NULL);
    return created == (HRESULT)0x80070057 && removed == (HRESULT)0x80070057 ? 0 : 1;
}
