// SPDX-License-Identifier: GPL-2.0
/* Cases for SRCU006, written for the rule (not taken from any patch). */

#include <linux/srcu.h>
#include <linux/list.h>

struct engine {
	struct srcu_struct srcu;
	struct srcu_struct *ssp;
	int busy;
};

struct job {
	struct engine *eng;
	struct list_head node;
	struct srcu_struct srcu;
	int state;
};

DEFINE_STATIC_SRCU(jobs_srcu);

/*
 * The caller's code runs between two evaluations of (eng)->srcu. (One-line macros, so that the
 * annotation can stand on the line before; tests/test_srcu006.py checks multi-line ones.)
 */
/* ruleid: SRCU006 */
#define engine_run_locked(eng, body) do { int __idx = srcu_read_lock(&(eng)->srcu); (body); srcu_read_unlock(&(eng)->srcu, __idx); } while (0)

/* The same through a pointer member, the body as a bare statement. */
/* ruleid: SRCU006 */
#define engine_call(eng, stmt) do { int __i = srcu_read_lock((eng)->ssp); stmt; srcu_read_unlock((eng)->ssp, __i); } while (0)

/* The srcu_struct is the parameter; the use below passes it through two pointers. */
/* ruleid: SRCU006 */
#define with_srcu(ssp, code) ({ int __k = srcu_read_lock(ssp); code; srcu_read_unlock(ssp, __k); })

/* Fixed: the srcu_struct is evaluated once into a local. */
/* ok: SRCU006 */
#define engine_run_once(eng, body) do { struct srcu_struct *__ssp = &(eng)->srcu; int __idx = srcu_read_lock(__ssp); (body); srcu_read_unlock(__ssp, __idx); } while (0)

/* A global domain: nothing the body does can change it. */
/* ok: SRCU006 */
#define jobs_run_locked(body) do { int __idx = srcu_read_lock(&jobs_srcu); (body); srcu_read_unlock(&jobs_srcu, __idx); } while (0)

/* Through the parameter, but no caller code runs in between (out is only assigned). */
/* ok: SRCU006 */
#define engine_busy(eng, out) do { int __idx = srcu_read_lock(&(eng)->srcu); out = READ_ONCE((eng)->busy); srcu_read_unlock(&(eng)->srcu, __idx); } while (0)

/* The srcu_struct is the parameter, and the only use passes a global's address. */
/* ok: SRCU006 */
#define with_domain(d, code) ({ int __k = srcu_read_lock(d); code; srcu_read_unlock(d, __k); })

/* Fixed, multi-line. */
#define engine_run_fixed(eng, body)				\
do {								\
	struct srcu_struct *__ssp = (eng)->ssp;			\
	int __idx;						\
								\
	__idx = srcu_read_lock(__ssp);				\
	(body);							\
	srcu_read_unlock(__ssp, __idx);				\
} while (0)

void job_finish(struct job *job);
struct engine *engine_next(struct engine *eng);

void job_poke(struct job *job)
{
	with_srcu(&job->eng->srcu, job_finish(job));
	with_domain(&jobs_srcu, job_finish(job));
}

/* The job moves to another engine inside the section: the unlock hits the new engine. */
void job_migrate(struct job *job, struct engine *to)
{
	int idx;

	idx = srcu_read_lock(&job->eng->srcu);
	if (job->state)
		job->eng = to;
	/* ruleid: SRCU006 */
	srcu_read_unlock(&job->eng->srcu, idx);
}

/* A bare pointer reassigned between the two. */
void engine_walk(struct engine *eng)
{
	struct srcu_struct *ssp = eng->ssp;
	int idx;

	idx = srcu_read_lock(ssp);
	while (eng->busy) {
		eng = engine_next(eng);
		ssp = eng->ssp;
	}
	/* ruleid: SRCU006 */
	srcu_read_unlock(ssp, idx);
}

/* The iterator's cursor is what the domain goes through. */
void jobs_scan(struct list_head *head, struct job *pos)
{
	int idx;

	idx = srcu_read_lock(&pos->srcu);
	list_for_each_entry(pos, head, node)
		pos->state = 0;
	/* ruleid: SRCU006 */
	srcu_read_unlock(&pos->srcu, idx);
}

/* The pointer changes only after the unlock. */
void job_migrate_after(struct job *job, struct engine *to)
{
	int idx;

	idx = srcu_read_lock(&job->eng->srcu);
	job->state = 1;
	/* ok: SRCU006 */
	srcu_read_unlock(&job->eng->srcu, idx);
	job->eng = to;
}

/* A member of the object written, not a pointer the domain goes through. */
void job_mark(struct job *job)
{
	int idx;

	idx = srcu_read_lock(&job->eng->srcu);
	job->eng->busy = 1;
	job->state = 2;
	/* ok: SRCU006 */
	srcu_read_unlock(&job->eng->srcu, idx);
}

/* Fixed: the srcu_struct evaluated once. */
void job_migrate_fixed(struct job *job, struct engine *to)
{
	struct srcu_struct *ssp = &job->eng->srcu;
	int idx;

	idx = srcu_read_lock(ssp);
	if (job->state)
		job->eng = to;
	/* ok: SRCU006 */
	srcu_read_unlock(ssp, idx);
}
