/* A stand-in for Windows' bcryptprimitives.dll, for Wine 8 (Debian 12's), which lacks it; Wine 9
 * has its own. Rust's standard library takes its random bytes from ProcessPrng there on Windows
 * 10 and later, so without it aetheria.exe cannot start under Wine 8. installer/test-windows.sh
 * builds this into the test's Wine prefix only when Wine has no such DLL; it is never shipped.
 * The bytes come from RtlGenRandom (advapi32's SystemFunction036), which Wine implements. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
