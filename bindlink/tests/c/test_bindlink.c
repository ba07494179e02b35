/*
 * Calls the bind link C API exactly as a program written for Microsoft's bindlink.h does, and
 * checks every HRESULT (issue 15, item 3). Built and run by bindlink/tests/c_api.rs on Linux
 * and by tools/bindlink-wine.sh on Windows (mingw, under Wine).
 *
 *   test_bindlink client
 *       Calls that fail before any view is reached: no view holds the path, NULL arguments,
 *       an unknown flag. Runs anywhere, also where no view can be mounted (Wine).
 *   test_bindlink full MNT BACKING BINDFS            (Linux)
 *       MNT is a live view over a tree holding Foo/old.txt and Foo/Keep/mine.txt; BACKING holds
 *       Target/Cat.txt and AFile. Creates links with every flag and with an exception, lists
 *       them through `BINDFS link list --json MNT`, removes them, and checks each refusal.
 *   test_bindlink denied MNT BACKING                 (Linux, run as another user)
 *       Both calls are refused with ERROR_ACCESS_DENIED.
 *   test_bindlink pipe VIEW BACKING                  (Windows)
 *       VIEW is the mount point of a view whose control pipe is served (no volume needed: the
 *       CLI's tests under Wine serve one), over an on-disk layer holding Foo\old.txt and
 *       Foo\Keep; BACKING holds Target\Cat.txt. Creates and removes links with every flag and
 *       with an exception, and checks each refusal, through the pipe.
 *
 * Exit status 0 when every check passed; each failed check prints one line.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <wchar.h>
#endif

#include "bindlink.h"

#define E_INVALIDARG_ ((HRESULT)0x80070057)
#define ERROR_FILE_NOT_FOUND_ ((HRESULT)0x80070002)
#define ERROR_PATH_NOT_FOUND_ ((HRESULT)0x80070003)
#define ERROR_ACCESS_DENIED_ ((HRESULT)0x80070005)
#define ERROR_NOT_SUPPORTED_ ((HRESULT)0x80070032)
#define ERROR_DIRECTORY_ ((HRESULT)0x8007010B)
#define ERROR_NOT_FOUND_ ((HRESULT)0x80070490)
#define ERROR_NO_UNICODE_TRANSLATION_ ((HRESULT)0x80070459)

static int failures = 0;
static int checks = 0;

static void expect(const char *what, HRESULT seen, HRESULT wanted)
{
    checks++;
    if (seen != wanted) {
        failures++;
        printf("FAIL %s: HRESULT 0x%08lX, expected 0x%08lX\n", what, (unsigned long)(unsigned int)seen,
               (unsigned long)(unsigned int)wanted);
    } else {
        printf("ok   %s: 0x%08lX\n", what, (unsigned long)(unsigned int)seen);
    }
}

/* Calls that fail in the library or in the client, before any view answers. */
static void client_checks(void)
{
#ifdef _WIN32
    PCWSTR nowhere = L"C:\\bindlink-test-no-view\\Foo";
    PCWSTR backing = L"C:\\windows";
#else
    const char *nowhere = "/proc/bindlink-test-no-view/Foo";
    const char *backing = "/tmp";
#endif
    BINDLINK_PATH except[1] = {NULL};
    expect("create in no view", CreateBindLink(nowhere, backing, CREATE_BIND_LINK_FLAG_NONE, 0, NULL),
           ERROR_NOT_SUPPORTED_);
    expect("create read-only|merged in no view",
           CreateBindLink(nowhere, backing, CREATE_BIND_LINK_FLAG_READ_ONLY | CREATE_BIND_LINK_FLAG_MERGED, 0, NULL),
           ERROR_NOT_SUPPORTED_);
    expect("remove in no view", RemoveBindLink(nowhere), ERROR_NOT_SUPPORTED_);
    expect("NULL virtualPath", CreateBindLink(NULL, backing, CREATE_BIND_LINK_FLAG_NONE, 0, NULL), E_INVALIDARG_);
    expect("NULL backingPath", CreateBindLink(nowhere, NULL, CREATE_BIND_LINK_FLAG_NONE, 0, NULL), E_INVALIDARG_);
    expect("NULL exception array", CreateBindLink(nowhere, backing, CREATE_BIND_LINK_FLAG_NONE, 1, NULL),
           E_INVALIDARG_);
    expect("NULL exception", CreateBindLink(nowhere, backing, CREATE_BIND_LINK_FLAG_NONE, 1, except),
           E_INVALIDARG_);
    expect("unknown flag", CreateBindLink(nowhere, backing, (CREATE_BIND_LINK_FLAGS)0x4, 0, NULL), E_INVALIDARG_);
    expect("remove NULL", RemoveBindLink(NULL), E_INVALIDARG_);
#ifdef _WIN32
    {
        WCHAR lone[] = {L'C', L':', L'\\', 0xD800, 0};
        expect("unpaired surrogate", RemoveBindLink(lone), ERROR_NO_UNICODE_TRANSLATION_);
    }
#else
    expect("not UTF-8", RemoveBindLink("/tmp/\xff"), ERROR_NO_UNICODE_TRANSLATION_);
#endif
}

#ifndef _WIN32
static void check(const char *what, int ok)
{
    checks++;
    if (!ok) {
        failures++;
        printf("FAIL %s\n", what);
    } else {
        printf("ok   %s\n", what);
    }
}

static char mnt[4096], tb[4096], bindfs[4096];

static const char *at(char *buf, const char *root, const char *rel)
{
    snprintf(buf, 4096, "%s/%s", root, rel);
    return buf;
}

/* `bindfs-rs link list --json MNT`, whole. */
static char *list_links(void)
{
    static char out[65536];
    char cmd[8300];
    size_t n = 0;
    FILE *p;
    snprintf(cmd, sizeof cmd, "'%s' link list --json '%s'", bindfs, mnt);
    p = popen(cmd, "r");
    if (!p) {
        return strcpy(out, "popen failed");
    }
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    return out;
}

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
    }
    return f != NULL;
}

/* Creates Foo -> Target with `flags`, checks what `link list --json` says, removes it. */
static void round_trip(const char *name, CREATE_BIND_LINK_FLAGS flags, const char *ro, const char *merged)
{
    char v[4096], b[4096], probe[4096], what[256], want[4200];
    char *listed;
    snprintf(what, sizeof what, "create Foo %s", name);
    expect(what, CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"), flags, 0, NULL), S_OK);
    listed = list_links();
    snprintf(want, sizeof want, "\"virtual\": \"%s/Foo\"", mnt);
    snprintf(what, sizeof what, "link list shows Foo (%s)", name);
    check(what, strstr(listed, want) != NULL);
    snprintf(what, sizeof what, "link list: read_only %s (%s)", ro, name);
    snprintf(want, sizeof want, "\"read_only\": %s", ro);
    check(what, strstr(listed, want) != NULL);
    snprintf(what, sizeof what, "link list: merged %s (%s)", merged, name);
    snprintf(want, sizeof want, "\"merged\": %s", merged);
    check(what, strstr(listed, want) != NULL);
    snprintf(what, sizeof what, "Foo/Cat.txt seen through the link (%s)", name);
    check(what, file_exists(at(probe, mnt, "Foo/Cat.txt")));
    snprintf(what, sizeof what, "Foo/old.txt %s (%s)", strcmp(merged, "true") == 0 ? "merged in" : "shadowed", name);
    check(what, file_exists(at(probe, mnt, "Foo/old.txt")) == (strcmp(merged, "true") == 0));
    snprintf(what, sizeof what, "remove Foo %s", name);
    expect(what, RemoveBindLink(at(v, mnt, "Foo")), S_OK);
    check("link list is empty again", strstr(list_links(), "\"virtual\"") == NULL);
}

static void full_checks(void)
{
    char v[4096], b[4096], e[4096], e2[4096], probe[4096];
    BINDLINK_PATH except[2];
    char *listed;

    round_trip("none", CREATE_BIND_LINK_FLAG_NONE, "false", "false");
    round_trip("read-only", CREATE_BIND_LINK_FLAG_READ_ONLY, "true", "false");
    round_trip("merged", CREATE_BIND_LINK_FLAG_MERGED, "false", "true");
    round_trip("read-only|merged", CREATE_BIND_LINK_FLAG_READ_ONLY | CREATE_BIND_LINK_FLAG_MERGED, "true", "true");

    /* A read-only link refuses a write. */
    expect("create Foo read-only", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"),
                                                  CREATE_BIND_LINK_FLAG_READ_ONLY, 0, NULL), S_OK);
    check("writing through a read-only link fails", fopen(at(probe, mnt, "Foo/new.txt"), "w") == NULL);
    expect("remove Foo read-only", RemoveBindLink(at(v, mnt, "Foo")), S_OK);

    /* An exception: Foo/Keep stays the on-disk one. */
    except[0] = at(e, mnt, "Foo/Keep");
    expect("create Foo except Foo/Keep",
           CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"), CREATE_BIND_LINK_FLAG_NONE, 1, except), S_OK);
    listed = list_links();
    {
        char want[4200];
        snprintf(want, sizeof want, "\"%s/Foo/Keep\"", mnt);
        check("link list shows the exception", strstr(listed, want) != NULL);
    }
    check("Foo/Keep/mine.txt is the on-disk one", file_exists(at(probe, mnt, "Foo/Keep/mine.txt")));
    check("Foo/Cat.txt from the backing", file_exists(at(probe, mnt, "Foo/Cat.txt")));

    /* Refusals, each with its HRESULT. */
    expect("Foo already a link", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"), CREATE_BIND_LINK_FLAG_NONE,
                                                0, NULL), E_INVALIDARG_);
    expect("remove Foo (with its exception)", RemoveBindLink(at(v, mnt, "Foo")), S_OK);
    expect("remove Foo again: no link", RemoveBindLink(at(v, mnt, "Foo")), ERROR_NOT_FOUND_);
    expect("backing missing", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "NoSuch"), CREATE_BIND_LINK_FLAG_NONE, 0,
                                             NULL), ERROR_FILE_NOT_FOUND_);
    except[0] = at(e, mnt, "top.txt");
    expect("exception not under V", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"),
                                                   CREATE_BIND_LINK_FLAG_NONE, 1, except), E_INVALIDARG_);
    except[0] = at(e, mnt, "New/x");
    except[1] = at(e2, mnt, "New/y");
    expect("exceptions on an anchorless V", CreateBindLink(at(v, mnt, "New"), at(b, tb, "Target"),
                                                           CREATE_BIND_LINK_FLAG_NONE, 2, except), E_INVALIDARG_);
    expect("anchorless V whose parent is missing",
           CreateBindLink(at(v, mnt, "No/Such/Dir"), at(b, tb, "Target"), CREATE_BIND_LINK_FLAG_NONE, 0, NULL),
           ERROR_PATH_NOT_FOUND_);
    expect("merged over a file backing", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "AFile"),
                                                        CREATE_BIND_LINK_FLAG_MERGED, 0, NULL), ERROR_DIRECTORY_);
    check("nothing was left behind", strstr(list_links(), "\"virtual\"") == NULL);

    /* Anchorless, relative to the working directory like the CLI. */
    expect("create anchorless New", CreateBindLink(at(v, mnt, "New"), at(b, tb, "Target"),
                                                   CREATE_BIND_LINK_FLAG_NONE, 0, NULL), S_OK);
    check("New/Cat.txt through the anchorless link", file_exists(at(probe, mnt, "New/Cat.txt")));
    check("link list: anchorless", strstr(list_links(), "\"anchorless\": true") != NULL);
    expect("remove New", RemoveBindLink(at(v, mnt, "New")), S_OK);
}
#endif

#ifdef _WIN32
static WCHAR view[1024], backing[1024];

static PCWSTR wat(WCHAR *buf, const WCHAR *root, const WCHAR *rel)
{
    _snwprintf(buf, 2048, L"%ls\\%ls", root, rel);
    buf[2047] = 0;
    return buf;
}

/* Links made and refused through a view's control pipe. */
static void pipe_checks(void)
{
    WCHAR v[2048], b[2048], e[2048];
    PCWSTR except[1];
    static const CREATE_BIND_LINK_FLAGS every[4] = {
        CREATE_BIND_LINK_FLAG_NONE, CREATE_BIND_LINK_FLAG_READ_ONLY, CREATE_BIND_LINK_FLAG_MERGED,
        CREATE_BIND_LINK_FLAG_READ_ONLY | CREATE_BIND_LINK_FLAG_MERGED};
    static const char *names[4] = {"none", "read-only", "merged", "read-only|merged"};
    int i;
    char what[128];
    for (i = 0; i < 4; i++) {
        snprintf(what, sizeof what, "pipe: create Foo %s", names[i]);
        expect(what, CreateBindLink(wat(v, view, L"Foo"), wat(b, backing, L"Target"), every[i], 0, NULL), S_OK);
        snprintf(what, sizeof what, "pipe: remove Foo %s", names[i]);
        expect(what, RemoveBindLink(wat(v, view, L"Foo")), S_OK);
    }
    except[0] = wat(e, view, L"Foo\\Keep");
    expect("pipe: create Foo except Foo\\Keep",
           CreateBindLink(wat(v, view, L"Foo"), wat(b, backing, L"Target"), CREATE_BIND_LINK_FLAG_NONE, 1, except),
           S_OK);
    expect("pipe: Foo already a link",
           CreateBindLink(wat(v, view, L"Foo"), wat(b, backing, L"Target"), CREATE_BIND_LINK_FLAG_NONE, 0, NULL),
           E_INVALIDARG_);
    expect("pipe: remove Foo", RemoveBindLink(wat(v, view, L"Foo")), S_OK);
    expect("pipe: remove Foo again: no link", RemoveBindLink(wat(v, view, L"Foo")), ERROR_NOT_FOUND_);
    expect("pipe: backing missing",
           CreateBindLink(wat(v, view, L"Foo"), wat(b, backing, L"NoSuch"), CREATE_BIND_LINK_FLAG_NONE, 0, NULL),
           ERROR_FILE_NOT_FOUND_);
    expect("pipe: anchorless V whose parent is missing",
           CreateBindLink(wat(v, view, L"No\\Such"), wat(b, backing, L"Target"), CREATE_BIND_LINK_FLAG_NONE, 0, NULL),
           ERROR_PATH_NOT_FOUND_);
    except[0] = wat(e, view, L"New\\x");
    expect("pipe: exceptions on an anchorless V",
           CreateBindLink(wat(v, view, L"New"), wat(b, backing, L"Target"), CREATE_BIND_LINK_FLAG_NONE, 1, except),
           E_INVALIDARG_);
}

int wmain(int argc, wchar_t **argv)
{
    if (argc >= 2 && wcscmp(argv[1], L"client") == 0) {
        client_checks();
    } else if (argc == 4 && wcscmp(argv[1], L"pipe") == 0) {
        _snwprintf(view, 1024, L"%ls", argv[2]);
        view[1023] = 0;
        _snwprintf(backing, 1024, L"%ls", argv[3]);
        backing[1023] = 0;
        client_checks();
        pipe_checks();
    } else {
        fprintf(stderr, "usage: test_bindlink client | pipe VIEW BACKING\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
#else
int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "client") == 0) {
        client_checks();
    } else if (argc == 5 && strcmp(argv[1], "full") == 0) {
        snprintf(mnt, sizeof mnt, "%s", argv[2]);
        snprintf(tb, sizeof tb, "%s", argv[3]);
        snprintf(bindfs, sizeof bindfs, "%s", argv[4]);
        client_checks();
        full_checks();
    } else if (argc == 4 && strcmp(argv[1], "denied") == 0) {
        char v[4096], b[4096];
        snprintf(mnt, sizeof mnt, "%s", argv[2]);
        snprintf(tb, sizeof tb, "%s", argv[3]);
        expect("create by another user", CreateBindLink(at(v, mnt, "Foo"), at(b, tb, "Target"),
                                                        CREATE_BIND_LINK_FLAG_NONE, 0, NULL), ERROR_ACCESS_DENIED_);
        expect("remove by another user", RemoveBindLink(at(v, mnt, "Foo")), ERROR_ACCESS_DENIED_);
    } else {
        fprintf(stderr, "usage: test_bindlink client | full MNT BACKING BINDFS | denied MNT BACKING\n");
        return 2;
    }
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
#endif
