/* Wine 8 has no bcryptprimitives.dll, and Rust's standard library (1.78 and
 * later) asks it for ProcessPrng before main. This stands in for it under
 * Wine only (CI puts it in the Wine prefix); Windows 10 and later have their
 * own. RtlGenRandom (advapi32!SystemFunction036) gives the same bytes. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
