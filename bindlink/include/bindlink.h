/*
 * bindlink.h: the bind link API of Windows 11 24H2 (CreateBindLink, RemoveBindLink), served
 * by bindfs-rs views. Same names, flags and HRESULTs as Microsoft's header.
 *
 * Windows: the documented signatures (PCWSTR paths, WINAPI); link with bindlink.lib and put
 *          bindlink.dll next to the .exe.
 * Linux:   the same functions with paths as UTF-8 `const char *`; link with -lbindlink
 *          (libbindlink.so). HRESULT is int32_t; FAILED()/SUCCEEDED() are defined here.
 *
 * Relative paths are taken from the working directory, as `bindfs-rs link create` takes them.
 * Every call goes to the live bindfs-rs view holding virtualPath; the library keeps no state.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef BINDFS_RS_BINDLINK_H
#define BINDFS_RS_BINDLINK_H

#ifdef _WIN32
#include <windows.h>
#else
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef _WIN32
typedef int32_t HRESULT;
typedef uint32_t UINT32;
/* Paths are UTF-8 on Linux. */
typedef const char *PCWSTR_UTF8;
#ifndef SUCCEEDED
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#endif
#ifndef FAILED
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#endif
#ifndef S_OK
#define S_OK ((HRESULT)0)
#endif
#define BINDLINK_PATH PCWSTR_UTF8
#define BINDLINK_API
#else
#define BINDLINK_PATH PCWSTR
#define BINDLINK_API WINAPI
#endif

typedef enum CREATE_BIND_LINK_FLAGS {
    CREATE_BIND_LINK_FLAG_NONE = 0x00000000,
    CREATE_BIND_LINK_FLAG_READ_ONLY = 0x00000001,
    CREATE_BIND_LINK_FLAG_MERGED = 0x00000002,
} CREATE_BIND_LINK_FLAGS;

#if defined(__cplusplus) && defined(DEFINE_ENUM_FLAG_OPERATORS)
DEFINE_ENUM_FLAG_OPERATORS(CREATE_BIND_LINK_FLAGS)
#endif

/* Makes backingPath's tree visible at virtualPath, with the exceptions below it where the link
 * does not apply. S_OK, or an HRESULT_FROM_WIN32(ERROR_...) (README, "Using the C API"). */
HRESULT BINDLINK_API CreateBindLink(BINDLINK_PATH virtualPath, BINDLINK_PATH backingPath,
                                    CREATE_BIND_LINK_FLAGS createBindLinkFlags, UINT32 exceptionCount,
                                    const BINDLINK_PATH *exceptionPaths);

/* Removes the link at virtualPath. */
HRESULT BINDLINK_API RemoveBindLink(BINDLINK_PATH virtualPath);

#ifdef __cplusplus
}
#endif

#endif /* BINDFS_RS_BINDLINK_H */
