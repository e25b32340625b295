/*
 * common/sanitizer.h - RT_SANITIZED: 1 in a build with AddressSanitizer or
 * ThreadSanitizer (`make SAN=1`, `make SAN=thread`), else 0.
 *
 * Code that must behave differently under them asks this: phase 4's
 * channel, whose streaming stores the sanitizers cannot see, and the tests
 * that shorten their long runs there. gcc defines __SANITIZE_ADDRESS__ and
 * __SANITIZE_THREAD__; clang answers __has_feature() instead.
 */
#ifndef COMMON_SANITIZER_H
#define COMMON_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RT_SANITIZED 1
#endif
#endif
#ifndef RT_SANITIZED
#define RT_SANITIZED 0
#endif

#endif /* COMMON_SANITIZER_H */
