// Linked into the server only in ThreadSanitizer builds (DELAYQ_TSAN).
//
// librdkafka (the Kafka sink) runs its threads and locks through C11 <threads.h>:
// thrd_create, mtx_lock, cnd_timedwait... glibc implements those by calling its internal
// pthread functions directly, and GCC 12's TSan runtime intercepts only the public pthread
// ones. So TSan never learns of librdkafka's threads: the first instrumented code such a
// thread runs (a delivery-report callback, malloc) finds no thread state and the process dies
// with a SEGV at start; and the waits and locks it never sees would be reported as races.
// These definitions take precedence over glibc's for the whole process (the executable's
// symbols come first in the lookup) and forward each C11 call to the public pthread function
// TSan does intercept. glibc's types are layout-compatible (thrd_t is pthread_t, mtx_t is a
// pthread_mutex_t-sized union, cnd_t likewise, once_flag holds a pthread_once_t).
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>
#include <cstdlib>

namespace {

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));

pthread_mutex_t* AsPthread(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* AsPthread(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

int FromErrno(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    case ENOMEM:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t func;
  void* arg;
};

void* RunC11Thread(void* p) {
  Start start = *static_cast<Start*>(p);
  std::free(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = static_cast<Start*>(std::malloc(sizeof(Start)));
  if (start == nullptr) return thrd_nomem;
  *start = Start{func, arg};
  pthread_t id;
  int rc = pthread_create(&id, nullptr, RunC11Thread, start);
  if (rc != 0) {
    std::free(start);
    return FromErrno(rc);
  }
  *thr = id;
  return thrd_success;
}

int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  int rc = pthread_join(thr, &value);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return FromErrno(rc);
}

int thrd_detach(thrd_t thr) { return FromErrno(pthread_detach(thr)); }

void thrd_exit(int res) { pthread_exit(reinterpret_cast<void*>(static_cast<intptr_t>(res))); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init(AsPthread(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return FromErrno(rc);
}

int mtx_lock(mtx_t* m) { return FromErrno(pthread_mutex_lock(AsPthread(m))); }
int mtx_trylock(mtx_t* m) { return FromErrno(pthread_mutex_trylock(AsPthread(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict deadline) {
  return FromErrno(pthread_mutex_timedlock(AsPthread(m), deadline));
}
int mtx_unlock(mtx_t* m) { return FromErrno(pthread_mutex_unlock(AsPthread(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(AsPthread(m)); }

int cnd_init(cnd_t* c) { return FromErrno(pthread_cond_init(AsPthread(c), nullptr)); }
int cnd_signal(cnd_t* c) { return FromErrno(pthread_cond_signal(AsPthread(c))); }
int cnd_broadcast(cnd_t* c) { return FromErrno(pthread_cond_broadcast(AsPthread(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return FromErrno(pthread_cond_wait(AsPthread(c), AsPthread(m)));
}
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m,
                  const struct timespec* __restrict deadline) {
  return FromErrno(pthread_cond_timedwait(AsPthread(c), AsPthread(m), deadline));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(AsPthread(c)); }

void call_once(once_flag* flag, void (*func)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
