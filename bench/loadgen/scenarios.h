#pragma once

// The scenarios of delayq_loadgen, one per subcommand (main.cc lists their options). Each
// prints one line of JSON (a Report) and returns the exit status: non-zero when the run is not
// a valid measurement (nothing completed, lost, duplicated or early tasks).

#include "options.h"

namespace loadgen {

int RunAdd(const Options& options);          // seed single adds, closed loop
int RunHttp(const Options& options);         // GET PATH, closed loop (the nginx reference)
int RunBatch(const Options& options);        // v1 batch adds, closed loop
int RunFire(const Options& options);         // seed tasks due on whole seconds, seed pulls
int RunPull(const Options& options);         // v1 pull + ack of tasks due now
int RunFireMs(const Options& options);       // v1 tasks due at ms times, pull + ack
int RunLongPoll(const Options& options);     // v1 long poll woken by a task falling due
int RunCallbackAdd(const Options& options);  // v1 callback tasks in batches
int RunCallbackLog(const Options& options);  // a receiver's log: lateness, exactly once
int RunBacklogAdd(const Options& options);   // v1 batches due hours ahead
int RunTopicsAdd(const Options& options);    // one callback task per topic
int RunBeanstalk(const Options& options);    // beanstalkd put, then reserve + delete

}  // namespace loadgen
