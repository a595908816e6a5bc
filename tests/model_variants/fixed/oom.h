/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __INCLUDE_LINUX_OOM_H
#define __INCLUDE_LINUX_OOM_H

struct oom_control {
	struct zonelist *zonelist;
	struct mem_cgroup *memcg;
	gfp_t gfp_mask;
	int order;
	unsigned long totalpages;
	struct task_struct *chosen;
	long chosen_points;
	enum oom_constraint constraint;

#ifdef CONFIG_BPF_SYSCALL
	/* Used by the bpf oom implementation to mark the forward progress */
	bool bpf_memory_freed;

	/* Policy name */
	const char *bpf_policy_name;
#endif
};

#endif
