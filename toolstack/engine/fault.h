/* SPDX-License-Identifier: MIT */
/*
 * Named fault points (as CRIU's CRIU_FAULT), compiled into the product
 * and off unless the environment names one:
 *
 *     XLMIG_FAULT=<point>[:<action>]   action: error (default), kill, stop,
 *                                      hook
 *
 * e.g. XLMIG_FAULT=precopy-round-2:kill, XLMIG_FAULT=recv-after-go:stop.
 * A point fires once per process.  error makes the caller fail as if the
 * step had failed (-EIO); kill is kill -9 of the process itself; stop is
 * SIGSTOP of itself (a peer that hangs: it is never continued by us);
 * hook runs the shell command in XLMIG_FAULT_HOOK, waits for it and goes
 * on (the matrix drops the lab link with it at the exact point: a peer
 * that disappears without a word).  docs/design.md lists the points.
 */
#ifndef XLMIG_ENGINE_FAULT_H
#define XLMIG_ENGINE_FAULT_H

#define FAULT_ENV      "XLMIG_FAULT"
#define FAULT_HOOK_ENV "XLMIG_FAULT_HOOK"

enum fault_point {
    /* sender (xlmig migrate) */
    FAULT_CONNECT = 0,   /* before the transport connects */
    FAULT_HANDSHAKE,     /* after the banner, before the header */
    FAULT_CONFIG,        /* after the header and config were sent */
    FAULT_PRECOPY_ROUND, /* at precopy round K (point "precopy-round-K") */
    FAULT_SUSPEND,       /* right after the guest is suspended */
    FAULT_STOP_AND_COPY, /* the stream is complete, before "ready" */
    FAULT_AFTER_READY,   /* "ready" read, before the rename and GO */
    FAULT_AFTER_GO,      /* GO written, before the report is read */
    FAULT_AFTER_REPORT,  /* report read, before destroy/resume */
    /* receiver (xlmig migrate-receive, under xlmigd or ssh) */
    FAULT_RECV_CONFIG,        /* header and config read */
    FAULT_RECV_RESTORED,      /* paused copy complete, before "ready" */
    FAULT_RECV_AFTER_READY,   /* "ready" written, before GO is read */
    FAULT_RECV_AFTER_GO,      /* GO read, before RUNNING and unpause */
    FAULT_RECV_BEFORE_REPORT, /* unpaused, before the report */
    FAULT_RECV_AFTER_REPORT,  /* report written */
    FAULT_NPOINTS
};

enum fault_action {
    FAULT_NONE = 0,
    FAULT_ERROR,
    FAULT_KILL,
    FAULT_STOP,
    FAULT_HOOK,
};

struct fault_spec {
    enum fault_point point;
    enum fault_action action;
    unsigned arg; /* round K of precopy-round-K */
};

const char *fault_point_name(enum fault_point p);
const char *fault_action_name(enum fault_action a);

/* Parse "point[:action]"; -EINVAL on an unknown point or action. */
int fault_parse(const char *s, struct fault_spec *f);

/*
 * The armed fault (from FAULT_ENV at the first call, or fault_arm()).
 * fault_hit(point, arg): FAULT_NONE if not armed here; otherwise, once,
 * the action is carried out (kill and stop through the executor, which
 * defaults to raise()) and returned; callers fail with -EIO on
 * FAULT_ERROR.
 */
enum fault_action fault_hit(enum fault_point p, unsigned arg);
/* 0, or -EIO when an error fault fires here (the common call form). */
int fault_point(enum fault_point p, unsigned arg);

/* Tests: arm a spec (NULL disarms), replace the signal executor and the
 * hook runner (default: system(), the command from FAULT_HOOK_ENV). */
void fault_arm(const struct fault_spec *f);
void fault_set_executor(void (*fn)(int sig));
void fault_set_runner(int (*fn)(const char *cmd));
/* Re-read FAULT_ENV at the next hit (after a fork). */
void fault_reset(void);

#endif
