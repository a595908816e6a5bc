// SPDX-License-Identifier: GPL-2.0-only
/*
 * The parts of mm/oom_kill.c that the bpf_oom patch adds or touches
 * (reviewbot test variant).
 */
#include <linux/oom.h>
#include <linux/bpf_oom.h>

static const char *oom_policy_name(struct oom_control *oc)
{
#ifdef CONFIG_BPF_SYSCALL
	if (oc->bpf_policy_name)
		return oc->bpf_policy_name;
#endif
	return "default";
}

static void dump_header(struct oom_control *oc)
{
	pr_warn("%s invoked oom-killer: gfp_mask=%#x(%pGg), order=%d, oom_score_adj=%hd\noom_policy=%s\n",
		current->comm, oc->gfp_mask, &oc->gfp_mask, oc->order,
		current->signal->oom_score_adj,
		oom_policy_name(oc));
}

bool out_of_memory(struct oom_control *oc)
{
	/*
	 * Let bpf handle the OOM first. If it was able to free up some memory,
	 * bail out. Otherwise fall back to the kernel OOM killer.
	 */
	if (bpf_handle_oom(oc))
		return true;

	select_bad_process(oc);
	return !!oc->chosen;
}
