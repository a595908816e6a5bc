/* SPDX-License-Identifier: GPL-2.0+ */

#ifndef __BPF_OOM_H
#define __BPF_OOM_H

struct oom_control;
struct mem_cgroup;

#define BPF_OOM_NAME_MAX_LEN 64

struct bpf_oom_ctx {
	/*
	 * If bpf_oom_ops is attached to a cgroup, id of this cgroup.
	 * 0 if it is the system-wide handler.
	 */
	u64 cgroup_id;
};

struct bpf_oom_ops {
	/**
	 * @handle_out_of_memory: Out of memory bpf handler, called before
	 * the in-kernel OOM killer.
	 * @ctx: Execution context
	 * @oc: OOM control structure
	 *
	 * Should return 1 if some memory was freed up, otherwise
	 * the in-kernel OOM killer is invoked.
	 */
	int (*handle_out_of_memory)(struct bpf_oom_ctx *ctx, struct oom_control *oc);

	/**
	 * @handle_cgroup_offline: Cgroup offline callback
	 * @ctx: Execution context
	 * @cgroup_id: Id of deleted cgroup
	 *
	 * Called if the cgroup with the attached bpf_oom_ops is deleted.
	 */
	void (*handle_cgroup_offline)(struct bpf_oom_ctx *ctx, u64 cgroup_id);

	/**
	 * @name: BPF OOM policy name
	 */
	char name[BPF_OOM_NAME_MAX_LEN];

	/* Private */
	struct mem_cgroup *memcg;
};

#ifdef CONFIG_BPF_SYSCALL
/**
 * bpf_handle_oom - handle out of memory using bpf programs
 * @oc: OOM control structure
 *
 * Calls the handlers attached to the OOM's memory cgroup and to its
 * ancestors, the nearest first, then the system-wide handler.
 *
 * Returns true if a bpf oom program was executed, returned 1
 * and some memory was actually freed.
 */
bool bpf_handle_oom(struct oom_control *oc);

/**
 * bpf_oom_memcg_offline - detach the handler of a memory cgroup
 * @memcg: memory cgroup going offline
 *
 * Takes the memory cgroup's bpf_oom_ops away and calls its
 * handle_cgroup_offline() callback.
 */
void bpf_oom_memcg_offline(struct mem_cgroup *memcg);

#else /* CONFIG_BPF_SYSCALL */
static inline bool bpf_handle_oom(struct oom_control *oc)
{
	return false;
}

static inline void bpf_oom_memcg_offline(struct mem_cgroup *memcg) {}

#endif /* CONFIG_BPF_SYSCALL */

#endif /* __BPF_OOM_H */
