/* A stand-in for Windows' bcryptprimitives.dll, for running Windows test binaries under Wine 8.
 *
 * Rust's std (1.78 and later) takes its random seeds from ProcessPrng in bcryptprimitives.dll,
 * which Wine 8 does not have: a binary that imports it fails to start (STATUS_DLL_NOT_FOUND,
 * c0000135). This DLL exports ProcessPrng on top of RtlGenRandom (advapi32's SystemFunction036),
 * which Wine has. tools/windows-test.sh builds it with mingw and puts it on Wine's DLL path; it
 * is never shipped and never used on Windows. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len; /* RtlGenRandom takes a ULONG */
    if (!RtlGenRandom(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
